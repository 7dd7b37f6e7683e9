import { recoverSnapshots } from '../../snapshot/recover.js';
import type { CommandContext } from '../context.js';
import { waitLockMs } from './lock-option.js';

export interface RecoverCommandOptions {
  waitLock?: string | boolean;
  stateDir: string;
}

export async function run(options: RecoverCommandOptions, ctx: CommandContext): Promise<void> {
  const r = await recoverSnapshots({ stateDir: options.stateDir, waitLockMs: waitLockMs(options.waitLock), log: (l) => ctx.err(l) });
  ctx.result('recover', r);
  if (r.actions.length === 0) ctx.out('nothing to recover: the kernel and the manifests agree');
  for (const a of r.actions) ctx.out(`recovered: ${a}`);
  for (const n of r.notes) ctx.out(`note: ${n}`);
}
