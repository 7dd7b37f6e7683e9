import { SnapstoreError } from '../../errors.js';
import { activateSnapshots } from '../../snapshot/activate.js';
import type { CommandContext } from '../context.js';
import { waitLockMs } from './lock-option.js';

export interface ActivateCommandOptions {
  names: string[];
  /** only ever refused: a boot budget is given to create */
  bootAttempts?: string;
  waitLock?: string | boolean;
  stateDir: string;
}

export async function run(options: ActivateCommandOptions, ctx: CommandContext): Promise<void> {
  if (options.bootAttempts !== undefined) {
    throw new SnapstoreError('BAD_VALUE', '--boot-attempts is not an option of activate: the budget is given when the snapshot is made, and recorded with it; activate counts each boot against it', {
      hint: 'snapstore create NAME ... --boot-attempts N; `snapstore status` shows the attempts used',
      usage: true,
    });
  }
  const r = await activateSnapshots({ names: options.names, stateDir: options.stateDir, waitLockMs: waitLockMs(options.waitLock), log: (l) => ctx.err(l) });
  ctx.result('activate', { snapshots: r });
  if (r.length === 0) ctx.out('no snapshots to activate');
  for (const a of r) {
    if (a.bootAttempts) ctx.out(`${a.name}: ${a.bootAttempts.message}`);
    ctx.out(a.message);
  }
  const lost = r.filter((a) => a.action === 'invalid');
  if (lost.length) {
    // The result says it too (action "invalid"): printed whole, then this error's text and exit code.
    ctx.fail(
      new SnapstoreError('SNAPSHOT_INVALID', `the rollback of ${lost.map((a) => `"${a.name}"`).join(', ')} is lost: the kernel invalidated ${lost.length === 1 ? 'its store' : 'their stores'}`, {
        hint: 'commit them to clean up (`snapstore commit NAME`): the origin keeps its current contents',
      }),
    );
  }
}
