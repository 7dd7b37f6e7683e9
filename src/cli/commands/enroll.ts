import { enrollDevice } from '../../snapshot/enroll.js';
import type { CommandContext } from '../context.js';
import { waitLockMs } from './lock-option.js';

export interface EnrollCommandOptions {
  device: string;
  name: string;
  waitLock?: string | boolean;
  stateDir: string;
}

export async function run(options: EnrollCommandOptions, ctx: CommandContext): Promise<void> {
  const r = await enrollDevice({ device: options.device, name: options.name, stateDir: options.stateDir, waitLockMs: waitLockMs(options.waitLock), log: (l) => ctx.err(l) });
  ctx.result('enroll', r);
  ctx.out(r.message);
  for (const l of r.lines) ctx.out(`  ${l}`);
}
