import { doctor, type Finding } from '../../doctor/index.js';
import { type Colour, paint } from '../colour.js';
import type { CommandContext } from '../context.js';

export interface DoctorCommandOptions {
  path?: string;
  stateDir: string;
}

const STATUS_COLOUR: Record<Finding['status'], Colour> = { ok: 'green', warn: 'yellow', fail: 'red' };

const line = (f: Finding, colour: boolean): string => `${paint(colour, STATUS_COLOUR[f.status], f.status.padEnd(4))}  ${f.check}: ${f.message}${f.fix ? `; fix: ${f.fix}` : ''}`;

export async function run(options: DoctorCommandOptions, ctx: CommandContext): Promise<void> {
  const findings = doctor({ stateDir: options.stateDir, ...(options.path !== undefined ? { path: options.path } : {}) });
  ctx.result('doctor', { findings });
  for (const f of findings) ctx.out(line(f, ctx.colour));
  const count = (s: Finding['status']) => findings.filter((f) => f.status === s).length;
  ctx.out(`${count('fail')} failed, ${count('warn')} to look at, ${count('ok')} ok`);
  if (count('fail') > 0) ctx.fail();
}
