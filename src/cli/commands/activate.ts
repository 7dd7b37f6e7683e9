import { SnapstoreError } from '../../errors.js';
import { activateSnapshots } from '../../snapshot/activate.js';
import type { CommandContext } from '../context.js';
import { waitLockMs } from './lock-option.js';

export interface ActivateCommandOptions {
  names: string[];
  waitLock?: string | boolean;
  stateDir: string;
}

export async function run(options: ActivateCommandOptions, ctx: CommandContext): Promise<void> {
  const r = await activateSnapshots({ names: options.names, stateDir: options.stateDir, waitLockMs: waitLockMs(options.waitLock), log: (l) => ctx.err(l) });
  ctx.result(r);
  if (r.length === 0) ctx.out('no snapshots to activate');
  for (const a of r) ctx.out(a.message);
  const lost = r.filter((a) => a.action === 'invalid');
  if (lost.length) {
    throw new SnapstoreError('SNAPSHOT_INVALID', `the rollback of ${lost.map((a) => `"${a.name}"`).join(', ')} is lost: the kernel invalidated ${lost.length === 1 ? 'its store' : 'their stores'}`, {
      hint: 'commit them to clean up (`snapstore commit NAME`): the origin keeps its current contents',
    });
  }
}
