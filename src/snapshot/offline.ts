/**
 * `rollback --offline` (a checkpoint) and `commit --offline` (an update):
 * our own merge of the store into the origin instead of the kernel's, where
 * the origin can stay unused (a recovery boot, a maintenance window): many
 * times faster on scattered chunks, but it blocks until done. "merging" with
 * `mergeOwner: offline` is written before the devices are taken down and the
 * first block is written; a merge the kernel began is finished here, and one
 * begun here can be handed to the kernel (both leave the store as the
 * kernel's merge does: the exception table shrinks from its end).
 */
import { parseSnapshotStatus } from '../dm/status.js';
import { SnapstoreError } from '../errors.js';
import type { Bytes } from '../units/units.js';
import type { MergeProgress, MergeSummary } from '../cow/merge.js';
import { readManifest } from '../store/manifest.js';
import { dropStack } from './build.js';
import { checkStoreHeader, storeLocation } from './checks.js';
import type { Operation } from './context.js';
import { faultPoint } from './faults.js';
import { finish } from './finish.js';
import { originLabel } from './manifest.js';
import { mergeEnd } from './merge.js';
import { findOrigin, mountedAbove, originInUse } from './origin.js';
import { inspectStack, stackNames } from './stack.js';
import { inspectUpdate, updateDevice } from './update-stack.js';

export interface OfflineOptions {
  readonly onProgress?: (p: MergeProgress) => void;
  readonly signal?: AbortSignal;
  /** data per batch: one origin flush and one store commit each (default 64 MiB) */
  readonly batchBytes?: Bytes;
}

/** The offline merge's options out of a command's (`onOfflineProgress`, `signal`, `offlineBatch`). */
export function offlineOptions(o: { readonly onOfflineProgress?: (p: MergeProgress) => void; readonly signal?: AbortSignal; readonly offlineBatch?: Bytes }): OfflineOptions {
  return {
    ...(o.onOfflineProgress ? { onProgress: o.onOfflineProgress } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.offlineBatch !== undefined ? { batchBytes: o.offlineBatch } : {}),
  };
}

export function invalidSnapshot(op: Operation): SnapstoreError {
  const m = op.manifest;
  return m.mode === 'update'
    ? new SnapstoreError('SNAPSHOT_INVALID', `snapshot "${m.name}" is Invalid: the kernel stopped recording (its store filled up or failed), so the update in it is incomplete; ${originLabel(m)} was left as it is`, {
        hint: `do not commit it: \`snapstore rollback ${m.name}\` drops it (${originLabel(m)} holds the old contents)`,
      })
    : new SnapstoreError('SNAPSHOT_INVALID', `snapshot "${m.name}" is Invalid: the kernel stopped recording (its store filled up or failed), so the rollback is lost; the origin was left as it is`, {
        hint: `nothing can be rolled back; \`snapstore commit ${m.name}\` drops the snapshot and keeps the origin as it is`,
      });
}

/** The live snapshot's device (checkpoint: -snap; update: snapstore-NAME), when it is one. */
function liveSnapshot(op: Operation): string | undefined {
  if (op.manifest.mode === 'update') return inspectUpdate(op.dm, op.name).kind === 'snapshot' ? updateDevice(op.name) : undefined;
  const s = inspectStack(op.dm, op.name, op.originDm);
  return s.originKind === 'origin' && s.snap ? stackNames(op.name).snap : undefined;
}

/** Refuses what the kernel or the header says is Invalid (recording it). */
export function refuseInvalid(op: Operation, headerToo: boolean): void {
  if (op.manifest.invalid) throw invalidSnapshot(op);
  const live = liveSnapshot(op);
  if (live) {
    const [st] = op.dm.status(live);
    const status = st ? parseSnapshotStatus(st.params) : undefined;
    if (status?.state === 'invalid' || status?.state === 'overflow') {
      op.note({ invalid: true }, `the kernel reports the snapshot ${status.state}`);
      throw invalidSnapshot(op);
    }
  } else if (headerToo) {
    // Nothing built (after a reboot, before activate): the header read raw must agree before the store is merged.
    const store = readManifest(op.lock.dir, op.manifest.store);
    const at = storeLocation(op.dm, op.manifest, store, op.manifest.origin.dmName !== undefined ? op.dm.find(op.manifest.origin.dmName)?.dev : undefined);
    const h = at ? checkStoreHeader(op.platform, at, store) : undefined;
    if (!h?.written) throw new SnapstoreError('STORE_HEADER_MISMATCH', `the header of store "${store.name}" cannot be read as a snapshot store`, { hint: 'nothing was changed; `snapstore status` shows where it stands' });
    if (!h.valid) {
      op.note({ invalid: true }, 'the store header says invalid');
      throw invalidSnapshot(op);
    }
  }
}

/** The offline merge, from any state where the merge may (still) start or go on. */
export async function mergeOffline(op: Operation, options: OfflineOptions): Promise<MergeSummary> {
  const m = op.manifest;
  if (m.beneath !== undefined) {
    throw new SnapstoreError('STACK_UNSUPPORTED', `snapshot "${m.name}" is beneath the crypt layer ${m.beneath.crypt}: the offline merge reads its store through its filesystem's device, above that layer`, {
      hint: `merge with the kernel: \`snapstore ${m.mode === 'update' ? 'commit' : 'rollback'} ${m.name}\` without --offline`,
    });
  }
  const origin = await findOrigin(op);
  if (m.state !== 'merging') refuseInvalid(op, true);
  // The origin and the snapshot must be unused: nothing may read or write them while we merge.
  const live = liveSnapshot(op);
  const liveInfo = live ? op.dm.find(live) : undefined;
  if (liveInfo && liveInfo.openCount > 0) {
    throw new SnapstoreError('DEVICE_BUSY', `the snapshot device ${live} is open (mounted, or held by a program): an offline merge needs it and ${originLabel(m)} unused`, {
      hint: `unmount it (findmnt /dev/mapper/${live}) and run this again, or merge with the kernel (without --offline)`,
    });
  }
  const onOrigin = m.mode === 'checkpoint' ? inspectStack(op.dm, m.name, op.originDm) : undefined;
  const ourTableOnOrigin = onOrigin !== undefined && (onOrigin.originKind === 'origin' || onOrigin.originKind === 'merge');
  const mountedAt = ourTableOnOrigin ? mountedAbove(op.platform, origin.dev) : undefined;
  const busy = ourTableOnOrigin ? (mountedAt !== undefined ? `it is mounted at ${mountedAt}` : undefined) : await originInUse(op, origin);
  if (busy !== undefined) {
    throw new SnapstoreError('DEVICE_IN_USE', `${originLabel(m)}, the origin of snapshot "${m.name}", ${busy}: an offline merge writes it and must be its only user`, {
      hint: `unmount it first (a recovery boot, a maintenance window), or merge with the kernel, which lets it stay mounted (without --offline)`,
    });
  }
  const why = m.mode === 'update' ? 'commit: our offline merge writes the update into the origin' : 'rollback: our offline merge writes the old contents back';
  if (m.state !== 'merging') op.advance('merging', why, { mergeOwner: 'offline' });
  else if (m.mergeOwner !== 'offline') op.note({ mergeOwner: 'offline' }, 'the merge the kernel began is finished offline');
  for (const line of await dropStack(op)) op.say(line);
  op.say(`merging store "${m.store}" into ${originLabel(m)} offline`);
  faultPoint('before:offline merge');
  const summary = await op.platform.mergeOffline(op.lock, {
    origin: origin.dev,
    store: m.store,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.batchBytes !== undefined ? { batchBytes: options.batchBytes } : {}),
  });
  faultPoint('after:offline merge');
  op.note({ mergeDone: true }, `merged offline: ${summary.chunks} chunks this run, ${summary.alreadyMerged} before`);
  await finish(op, mergeEnd(op), 'merged offline');
  return summary;
}
