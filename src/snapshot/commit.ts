/**
 * `snapstore commit` and `snapstore discard`. A checkpoint's commit keeps the
 * origin as it is now and drops the snapshot: the origin back on its own
 * table, our devices gone, the store deleted (discard can keep it). An
 * update's commit merges the update into the origin (update.ts); its discard
 * drops it. All are idempotent: a rerun after a power cut finishes the job
 * or says it is done. Commit refuses once a boot budget was spent (the
 * rollback was decided at boot).
 */
import { SnapstoreError } from '../errors.js';
import { refuseCommitWhenSpent } from './boot-attempts.js';
import { dropStack } from './build.js';
import { Operation, withLifecycle, type LifecycleOptions } from './context.js';
import { finish, storeNote } from './finish.js';
import { nothingToCommit } from './states.js';
import { originLabel, readSnapshot } from './manifest.js';
import { commitUpdate, type CommitUpdateOptions } from './update.js';
import { stackNames } from './stack.js';
import { updateDevice } from './update-stack.js';

export interface DropOptions extends LifecycleOptions, CommitUpdateOptions {
  readonly name: string;
  /** discard only: keep the store file */
  readonly keepStore?: boolean;
}

export interface DropResult {
  readonly name: string;
  /** merging: an update's commit goes on in the kernel */
  readonly outcome: 'committed' | 'discarded' | 'merging' | 'already';
  readonly message: string;
  /** the store file waits for its filesystem to be mounted */
  readonly storePending: boolean;
}

export function commitSnapshot(options: DropOptions): Promise<DropResult> {
  return drop(options, 'commit');
}

export function discardSnapshot(options: DropOptions): Promise<DropResult> {
  return drop(options, 'discard');
}

async function drop(options: DropOptions, how: 'commit' | 'discard'): Promise<DropResult> {
  const log = options.log ?? (() => {});
  const [doing, done] = how === 'commit' ? (['committing', 'committed'] as const) : (['discarding', 'discarded'] as const);
  return withLifecycle(options, false, async (platform, lock) => {
    const op = new Operation(platform, lock, readSnapshot(lock.dir, options.name), log);
    const m = op.manifest;
    if (options.offline && (how === 'discard' || m.mode === 'checkpoint')) {
      throw new SnapstoreError('BAD_VALUE', `--offline: ${how === 'discard' ? 'a discard' : "a checkpoint's commit"} merges nothing (it drops the snapshot)`, {
        hint: `run it without --offline${m.mode === 'checkpoint' && how === 'commit' ? '; `rollback --offline` merges a checkpoint offline' : ''}`,
        usage: true,
      });
    }
    if (how === 'commit') refuseCommitWhenSpent(m);
    if (how === 'commit' && m.mode === 'update') {
      const r = await commitUpdate(op, options);
      return { name: m.name, outcome: r.outcome, message: r.message, storePending: Boolean(op.manifest.storePending) };
    }
    if (m.mode === 'update' && (m.state === 'active' || m.state === 'rollback-pending') && (op.dm.find(updateDevice(m.name))?.openCount ?? 0) > 0) {
      throw new SnapstoreError('DEVICE_BUSY', `${updateDevice(m.name)} is in use (mounted, or held by a program): the update in it cannot be discarded now`, {
        hint: `unmount it and run this again, or \`snapstore rollback ${m.name}\`, which is done at the next boot`,
      });
    }
    const snap = stackNames(m.name).snap;
    if (m.mode === 'checkpoint' && (m.state === 'active' || m.state === 'rollback-pending') && (op.dm.find(snap)?.openCount ?? 0) > 0) {
      // Found only once the origin had its own table again, it would leave the drop half done.
      throw new SnapstoreError('DEVICE_BUSY', `the snapshot device ${snap} is open (mounted, held by a program, or read by \`snapstore diff\`): it must go before the ${how}`, {
        hint: `let the diff end, or unmount it (findmnt /dev/mapper/${snap}), and run the ${how} again`,
      });
    }
    if (m.state === done) {
      if (m.storePending) await finish(op, done, 'the store deleted on a rerun');
      return { name: m.name, outcome: 'already', message: `snapshot "${m.name}" was already ${done}`, storePending: Boolean(op.manifest.storePending) };
    }
    if (m.mode === 'update' && (m.state === 'merging' || m.state === 'committed' || m.state === 'rolling-back' || m.state === 'rolled-back')) {
      throw new SnapstoreError('BAD_STATE', `snapshot "${m.name}" is ${m.state}: ${m.state === 'merging' ? 'the update is merging into the origin, and a merge only goes forward' : m.state === 'rolling-back' ? 'its rollback did not finish' : 'there is nothing left to discard'}`, {
        hint: m.state === 'merging' ? `\`snapstore commit ${m.name} --wait\` finishes it` : m.state === 'rolling-back' ? '`snapstore recover` finishes it' : '`snapstore status` shows it',
      });
    }
    if (m.state === 'merging' || m.state === 'rolled-back') {
      throw new SnapstoreError('BAD_STATE', `snapshot "${m.name}" is ${m.state}: its rollback ${m.state === 'merging' ? 'has started merging, and a merge only goes forward' : 'is done'}`, {
        hint: m.state === 'merging' ? '`snapstore rollback --wait` finishes it; `snapstore status` shows its progress' : nothingToCommit(m.mode),
      });
    }
    if (m.state === 'creating') throw new SnapstoreError('BAD_STATE', `snapshot "${m.name}" is still being created (or its create was interrupted)`, { hint: 'run `snapstore recover` first' });
    if (m.state !== doing && (m.state === 'committing' || m.state === 'discarding' || m.state === 'committed' || m.state === 'discarded')) {
      throw new SnapstoreError('BAD_STATE', `snapshot "${m.name}" is ${m.state}`, { hint: `finish that with \`snapstore ${m.state.startsWith('commit') ? 'commit' : 'discard'} ${m.name}\`` });
    }
    if (m.state !== doing) op.advance(doing, `${how}: keep ${originLabel(m)} as it is, drop the snapshot`, options.keepStore ? { keepStore: true } : {});
    for (const line of await dropStack(op)) op.say(line);
    await finish(op, done, `${how} done`);
    return {
      name: m.name,
      outcome: done,
      message: `snapshot "${m.name}" ${done}: ${originLabel(m)} keeps its ${m.mode === 'update' ? 'old contents (the update was dropped)' : 'current contents'}${op.manifest.keepStore ? `; the store was kept` : op.manifest.storePending ? storeNote(op) : '; the store is deleted'}`,
      storePending: Boolean(op.manifest.storePending),
    };
  });
}
