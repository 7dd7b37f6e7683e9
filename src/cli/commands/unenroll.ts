import { unenrollDevice } from '../../snapshot/enroll.js';
import type { CommandContext } from '../context.js';
import { waitLockMs } from './lock-option.js';

export interface UnenrollCommandOptions {
  name: string;
  waitLock?: string | boolean;
  stateDir: string;
  fstab: string;
  crypttab: string;
  printOnly?: boolean;
}

export async function run(options: UnenrollCommandOptions, ctx: CommandContext): Promise<void> {
  const r = await unenrollDevice({ name: options.name, tables: { fstab: options.fstab, crypttab: options.crypttab }, printOnly: options.printOnly === true, stateDir: options.stateDir, waitLockMs: waitLockMs(options.waitLock), log: (l) => ctx.err(l) });
  ctx.result('unenroll', r);
  ctx.out(r.message);
}
