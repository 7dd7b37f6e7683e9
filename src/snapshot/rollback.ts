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
import { checkStoreHeader, storeLocation } from './checks.js';
import { finish, storeNote } from './finish.js';
import { Operation, withLifecycle, type LifecycleOptions } from './context.js';
import { readSnapshot } from './manifest.js';
import { goOnMerging, mergeStatus, type MergeProgress } from './merge.js';
import { invalidSnapshot, mergeOffline, offlineOptions } from './offline.js';
import { mountedAbove } from './origin.js';
import type { Bytes } from '../units/units.js';
import { rollbackUpdate } from './update.js';
import type { MergeProgress as OfflineProgress } from '../cow/merge.js';
import { inspectStack, stackNames } from './stack.js';

export interface RollbackOptions extends LifecycleOptions {
  readonly name: string;
  /** wait until the merge is done (else it goes on in the kernel) */
  readonly wait?: boolean;
  /** keep the store file afterwards */
  readonly keepStore?: boolean;
  readonly onProgress?: (p: MergeProgress) => void;
  readonly signal?: AbortSignal;
  /** merge with our offline merge instead of the kernel's (the origin must stay unused; it blocks until done) */
  readonly offline?: boolean;
  readonly onOfflineProgress?: (p: OfflineProgress) => void;
  /** --offline: data per batch (one origin flush and one store commit each; default 64 MiB) */
  readonly offlineBatch?: Bytes;
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
    if (m.state === 'rolled-back') {
      if (!m.storePending) return result('already-rolled-back', `snapshot "${m.name}" was already rolled back`);
      // A merge that ended before its store's filesystem was mounted: the store goes now, if it can.
      await finish(op, 'rolled-back', 'the store deleted on a rerun');
      return result('already-rolled-back', `snapshot "${m.name}" was already rolled back${op.manifest.storePending ? storeNote(op) : '; its store is deleted now'}`);
    }
    if (m.state === 'committed' || m.state === 'discarded' || m.state === 'committing' || m.state === 'discarding') {
      throw new SnapstoreError('BAD_STATE', `snapshot "${m.name}" is ${m.state}: the way back is gone`, {
        hint: `nothing is left to roll back to (\`snapstore status ${m.name}\` shows its history); the next update needs a new checkpoint (\`snapstore create\`)`,
      });
    }
    if (m.state === 'creating') throw new SnapstoreError('BAD_STATE', `snapshot "${m.name}" is still being created (or its create was interrupted)`, { hint: 'run `snapstore recover` first' });
    if (m.mode === 'update') return rollbackUpdate(op, options);
    if (m.invalid) throw invalidSnapshot(op);
    if (options.keepStore && !m.keepStore) op.note({ keepStore: true }, 'the store is to be kept');
    if (options.offline) {
      if (m.state === 'merging' && m.mergeDone) return continueMerge(op, options, result);
      const summary = await mergeOffline(op, offlineOptions(options));
      return result('rolled-back', `snapshot "${m.name}" is rolled back offline (${summary.chunks} chunks merged${summary.alreadyMerged ? `, ${summary.alreadyMerged} by an earlier run` : ''}): ${op.originDm} holds the old contents on its own table${storeNote(op)}`);
    }

    if (m.state === 'merging') {
      if (m.mergeOwner === 'offline') {
        // A merge begun offline, handed to the kernel: it builds the merge now if the origin is unused, else at the next activate.
        op.note({ mergeOwner: 'kernel' }, 'the merge begun offline is handed to the kernel');
        const origin = op.dm.find(op.originDm);
        if (origin && (mountedAbove(op.platform, origin.dev)) === undefined && !mergeStatus(op)) {
          const real = await ensureReal(op, ownTable(op, inspectStack(op.dm, m.name, op.originDm)));
          await attachMerge(op, real, await ensureCow(op, readManifest(op.lock.dir, m.store), real));
        }
      }
      return continueMerge(op, options, result);
    }

    const s = inspectStack(op.dm, m.name, op.originDm);
    const origin = op.dm.find(op.originDm);
    if (!origin) throw new SnapstoreError('ORIGIN_CHANGED', `the origin of snapshot "${m.name}", dm device ${op.originDm}, is not present`, { hint: 'set up the origin device first' });
    const live = s.originKind === 'origin' && s.snap !== undefined;
    if (live) {
      const [st] = op.dm.status(stackNames(m.name).snap);
      const status = st ? parseSnapshotStatus(st.params) : undefined;
      if (status?.state === 'invalid' || status?.state === 'overflow') {
        op.note({ invalid: true }, `the kernel reports the snapshot ${status.state}`);
        throw invalidSnapshot(op);
      }
    }
    const mounted = mountedAbove(op.platform, origin.dev);
    if (mounted !== undefined) {
      if (!live) {
        throw new SnapstoreError('ORIGIN_MOUNTED', `${op.originDm} is mounted at ${mounted} and snapshot "${m.name}" is not active: what was written since the boot is not in the snapshot`, {
          hint: 'a rollback must start before the filesystem is mounted: reboot and run it from the boot (or `snapstore activate` first)',
        });
      }
      if (m.state !== 'rollback-pending') op.advance('rollback-pending', `rollback asked while ${op.originDm} is mounted at ${mounted}`);
      return result('pending', `${op.originDm} is mounted at ${mounted}: the rollback of "${m.name}" is recorded and starts at the next boot (\`snapstore activate\`), before the filesystem is mounted. Until then the snapshot keeps recording`);
    }
    if (live && s.snap!.openCount > 0) {
      throw new SnapstoreError('DEVICE_BUSY', `the snapshot device ${stackNames(m.name).snap} is open (mounted, or held by a program): it must go before the merge`, {
        hint: `unmount it (findmnt /dev/mapper/${stackNames(m.name).snap}) and run the rollback again`,
      });
    }
    const store = readManifest(op.lock.dir, m.store);
    if (!live) {
      // After a reboot, before activate: the store's header must agree before it is merged.
      const at = storeLocation(op.dm, m, store, origin.dev);
      const h = at ? checkStoreHeader(op.platform, at, store) : undefined;
      if (!h?.written) throw new SnapstoreError('STORE_HEADER_MISMATCH', `the header of store "${store.name}" cannot be read as a snapshot store`, { hint: 'nothing was changed; `snapstore status` shows where it stands' });
      if (!h.valid) {
        op.note({ invalid: true }, 'the store header says invalid');
        throw invalidSnapshot(op);
      }
    }
    op.advance('merging', `rollback: the kernel merges the store into ${op.originDm}`, { mergeOwner: 'kernel' });
    const real = await ensureReal(op, ownTable(op, inspectStack(op.dm, m.name, op.originDm)));
    const cow = await ensureCow(op, store, real);
    await attachMerge(op, real, cow);
    op.say(`${op.originDm} shows the old contents now and can be mounted; the kernel merges underneath`);
    return continueMerge(op, options, result);
  });
}

async function continueMerge(op: Operation, options: RollbackOptions, result: (o: RollbackOutcome, m: string) => RollbackResult): Promise<RollbackResult> {
  const where = await goOnMerging(op, options);
  if (where === 'done') return result('rolled-back', `snapshot "${op.name}" is rolled back: ${op.originDm} holds the old contents on its own table${storeNote(op)}`);
  if (where === 'absent') return result('merging', `the rollback of "${op.name}" is recorded as merging; the merge goes on at the next \`snapstore activate\` (before the filesystem is mounted)`);
  return result('merging', `the rollback of "${op.name}" is merging in the kernel; \`snapstore rollback ${op.name} --wait\` waits for it, \`snapstore status\` shows its progress`);
}
