/**
 * `snapstore commit` and `snapstore discard` (checkpoint mode): keep the
 * origin as it is now and drop the snapshot: the origin back on its own
 * table, our devices gone, the store deleted (discard can keep it). Both are
 * idempotent: a rerun after a power cut finishes the job or says it is done.
 */
import { SnapstoreError } from '../errors.js';
import { dropStack } from './build.js';
import { Operation, withLifecycle, type LifecycleOptions } from './context.js';
import { finish } from './finish.js';
import { readSnapshot } from './manifest.js';

export interface DropOptions extends LifecycleOptions {
  readonly name: string;
  /** discard only: keep the store file */
  readonly keepStore?: boolean;
}

export interface DropResult {
  readonly name: string;
  readonly outcome: 'committed' | 'discarded' | 'already';
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
    if (m.state === done) {
      if (m.storePending) await finish(op, done, 'the store deleted on a rerun');
      return { name: m.name, outcome: 'already', message: `snapshot "${m.name}" was already ${done}`, storePending: Boolean(op.manifest.storePending) };
    }
    if (m.state === 'merging' || m.state === 'rolled-back') {
      throw new SnapstoreError('BAD_STATE', `snapshot "${m.name}" is ${m.state}: its rollback ${m.state === 'merging' ? 'has started merging, and a merge only goes forward' : 'is done'}`, {
        hint: m.state === 'merging' ? '`snapstore rollback --wait` finishes it; `snapstore status` shows its progress' : 'there is nothing to commit',
      });
    }
    if (m.state === 'creating') throw new SnapstoreError('BAD_STATE', `snapshot "${m.name}" is still being created (or its create was interrupted)`, { hint: 'run `snapstore recover` first' });
    if (m.state !== doing && (m.state === 'committing' || m.state === 'discarding' || m.state === 'committed' || m.state === 'discarded')) {
      throw new SnapstoreError('BAD_STATE', `snapshot "${m.name}" is ${m.state}`, { hint: `finish that with \`snapstore ${m.state.startsWith('commit') ? 'commit' : 'discard'} ${m.name}\`` });
    }
    if (m.state !== doing) op.advance(doing, `${how}: keep ${m.origin.dmName} as it is, drop the snapshot`, options.keepStore ? { keepStore: true } : {});
    for (const line of await dropStack(op)) op.say(line);
    await finish(op, done, `${how} done`);
    return {
      name: m.name,
      outcome: done,
      message: `snapshot "${m.name}" ${done}: ${m.origin.dmName} keeps its current contents${op.manifest.keepStore ? `; the store was kept` : op.manifest.storePending ? '; the store file is deleted once its filesystem is mounted (`snapstore recover`)' : '; the store is deleted'}`,
      storePending: Boolean(op.manifest.storePending),
    };
  });
}
