/**
 * `snapstore rollback`: the old contents back. As LVM merges, the origin
 * itself carries `snapshot-merge`: it can be mounted at once and already
 * shows the old contents while the kernel merges underneath. "merging" is
 * written before the first table switch: from there only the merge goes on.
 * A rollback asked for while the origin is mounted is recorded as pending
 * and starts at the next `activate`. An Invalid snapshot is never merged.
 */
import { parseSnapshotStatus } from '../dm/status.js';
import { SnapstoreError } from '../errors.js';
import { readManifest } from '../store/manifest.js';
import { attachMerge, ensureCow, ensureReal, ownTable } from './build.js';
import { checkStoreHeader, storeDevice, storeOnOrigin } from './checks.js';
import { Operation, withLifecycle, type LifecycleOptions } from './context.js';
import { readSnapshot } from './manifest.js';
import { finishMergeIfDone, mergeStatus, waitForMerge, type MergeProgress } from './merge.js';
import { inspectStack, stackNames } from './stack.js';

export interface RollbackOptions extends LifecycleOptions {
  readonly name: string;
  /** wait until the merge is done (else it goes on in the kernel) */
  readonly wait?: boolean;
  /** keep the store file afterwards */
  readonly keepStore?: boolean;
  readonly onProgress?: (p: MergeProgress) => void;
  readonly signal?: AbortSignal;
}

export type RollbackOutcome = 'pending' | 'merging' | 'rolled-back' | 'already-rolled-back';

export interface RollbackResult {
  readonly name: string;
  readonly outcome: RollbackOutcome;
  readonly message: string;
}

export async function rollbackSnapshot(options: RollbackOptions): Promise<RollbackResult> {
  const log = options.log ?? (() => {});
  return withLifecycle(options, false, async (platform, lock) => {
    const op = new Operation(platform, lock, readSnapshot(lock.dir, options.name), log);
    const m = op.manifest;
    const result = (outcome: RollbackOutcome, message: string): RollbackResult => ({ name: m.name, outcome, message });
    if (m.state === 'rolled-back') return result('already-rolled-back', `snapshot "${m.name}" was already rolled back`);
    if (m.state === 'committed' || m.state === 'discarded' || m.state === 'committing' || m.state === 'discarding') {
      throw new SnapstoreError('BAD_STATE', `snapshot "${m.name}" is ${m.state}: the way back is gone`, { hint: 'a committed or discarded snapshot cannot be rolled back' });
    }
    if (m.state === 'creating') throw new SnapstoreError('BAD_STATE', `snapshot "${m.name}" is still being created (or its create was interrupted)`, { hint: 'run `snapstore recover` first' });
    if (m.invalid) throw invalid(m.name);
    if (options.keepStore && !m.keepStore) op.note({ keepStore: true }, 'the store is to be kept');

    if (m.state === 'merging') return continueMerge(op, options, result);

    const s = inspectStack(op.dm, m.name, m.origin.dmName);
    const origin = op.dm.find(m.origin.dmName);
    if (!origin) throw new SnapstoreError('ORIGIN_CHANGED', `the origin of snapshot "${m.name}", dm device ${m.origin.dmName}, is not present`, { hint: 'set up the origin device first' });
    const live = s.originKind === 'origin' && s.snap !== undefined;
    if (live) {
      const [st] = op.dm.status(stackNames(m.name).snap);
      const status = st ? parseSnapshotStatus(st.params) : undefined;
      if (status?.state === 'invalid' || status?.state === 'overflow') {
        op.note({ invalid: true }, `the kernel reports the snapshot ${status.state}`);
        throw invalid(m.name);
      }
    }
    const mounted = op.platform.mountedAt(origin.dev);
    if (mounted !== undefined) {
      if (!live) {
        throw new SnapstoreError('ORIGIN_MOUNTED', `${m.origin.dmName} is mounted at ${mounted} and snapshot "${m.name}" is not active: what was written since the boot is not in the snapshot`, {
          hint: 'a rollback must start before the filesystem is mounted: reboot and run it from the boot (or `snapstore activate` first)',
        });
      }
      if (m.state !== 'rollback-pending') op.advance('rollback-pending', `rollback asked while ${m.origin.dmName} is mounted at ${mounted}`);
      return result('pending', `${m.origin.dmName} is mounted at ${mounted}: the rollback of "${m.name}" is recorded and starts at the next boot (\`snapstore activate\`), before the filesystem is mounted. Until then the snapshot keeps recording`);
    }
    if (live && s.snap!.openCount > 0) {
      throw new SnapstoreError('DEVICE_BUSY', `the snapshot device ${stackNames(m.name).snap} is open (mounted, or held by a program): it must go before the merge`, {
        hint: `unmount it (findmnt /dev/mapper/${stackNames(m.name).snap}) and run the rollback again`,
      });
    }
    const store = readManifest(op.lock.dir, m.store);
    if (!live) {
      // After a reboot, before activate: the store's header must agree before it is merged.
      const dev = storeOnOrigin(store, m.origin.dmName) ? origin.dev : storeDevice(op.dm, store);
      const h = dev ? checkStoreHeader(op.platform, dev, store) : undefined;
      if (!h?.written) throw new SnapstoreError('STORE_HEADER_MISMATCH', `the header of store "${store.name}" cannot be read as a snapshot store`, { hint: 'nothing was changed; `snapstore status` shows where it stands' });
      if (!h.valid) {
        op.note({ invalid: true }, 'the store header says invalid');
        throw invalid(m.name);
      }
    }
    op.advance('merging', `rollback: the kernel merges the store into ${m.origin.dmName}`, { mergeOwner: 'kernel' });
    const real = await ensureReal(op, ownTable(op, inspectStack(op.dm, m.name, m.origin.dmName)));
    const cow = await ensureCow(op, store, real);
    await attachMerge(op, real, cow);
    op.say(`${m.origin.dmName} shows the old contents now and can be mounted; the kernel merges underneath`);
    return continueMerge(op, options, result);
  });
}

async function continueMerge(op: Operation, options: RollbackOptions, result: (o: RollbackOutcome, m: string) => RollbackResult): Promise<RollbackResult> {
  if (await finishMergeIfDone(op)) return result('rolled-back', `snapshot "${op.name}" is rolled back: ${op.manifest.origin.dmName} holds the old contents on its own table${op.manifest.storePending ? '; the store file is deleted once its filesystem is mounted (`snapstore recover`)' : ''}`);
  if (!mergeStatus(op)) {
    return result('merging', `the rollback of "${op.name}" is recorded as merging; the merge goes on at the next \`snapstore activate\` (before the filesystem is mounted)`);
  }
  if (!options.wait) return result('merging', `the rollback of "${op.name}" is merging in the kernel; \`snapstore rollback ${op.name} --wait\` waits for it, \`snapstore status\` shows its progress`);
  await waitForMerge(op, options.onProgress, options.signal);
  return result('rolled-back', `snapshot "${op.name}" is rolled back: ${op.manifest.origin.dmName} holds the old contents on its own table${op.manifest.storePending ? '; the store file is deleted once its filesystem is mounted (`snapstore recover`)' : ''}`);
}

function invalid(name: string): SnapstoreError {
  return new SnapstoreError('SNAPSHOT_INVALID', `snapshot "${name}" is Invalid: the kernel stopped recording (its store filled up or failed), so the rollback is lost; the origin was left as it is`, {
    hint: `nothing can be rolled back; \`snapstore commit ${name}\` drops the snapshot and keeps the origin as it is`,
  });
}
