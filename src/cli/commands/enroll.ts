import { enrollDevice } from '../../snapshot/enroll.js';
import type { CommandContext } from '../context.js';
import { waitLockMs } from './lock-option.js';

export interface EnrollCommandOptions {
  device: string;
  name: string;
  waitLock?: string | boolean;
  stateDir: string;
  fstab: string;
  crypttab: string;
  printOnly?: boolean;
}

export async function run(options: EnrollCommandOptions, ctx: CommandContext): Promise<void> {
  const r = await enrollDevice({ device: options.device, name: options.name, tables: { fstab: options.fstab, crypttab: options.crypttab }, printOnly: options.printOnly === true, stateDir: options.stateDir, waitLockMs: waitLockMs(options.waitLock), log: (l) => ctx.err(l) });
  ctx.result('enroll', r);
  ctx.out(r.message);
  if (r.table?.outcome === 'rewritten') ctx.out(`  ${r.table.file}:\n  - ${r.table.before}\n  + ${r.table.after}`);
  for (const l of r.lines) ctx.out(`  ${l}`);
}
