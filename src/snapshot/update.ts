/**
 * Update mode's two ends, on the same state machine as a checkpoint's:
 * commit = merge the update into the origin (the kernel's snapshot-merge on
 * `snapstore-NAME`, which keeps showing the new contents, or our offline
 * merge), rollback = drop the snapshot (the origin was never written). A
 * rollback asked while the system runs from the snapshot is recorded and
 * done by the next `activate`, before anything mounts it.
 */
import { SnapstoreError } from '../errors.js';
import { readManifest } from '../store/manifest.js';
import { dropStack, ensureCow } from './build.js';
import type { Operation } from './context.js';
import { finish, storeNote } from './finish.js';
import { originLabel } from './manifest.js';
import { finishMergeIfDone, goOnMerging, type MergeWaitOptions } from './merge.js';
import { mergeOffline, offlineOptions, refuseInvalid, type OfflineOptions } from './offline.js';
import type { Bytes } from '../units/units.js';
import { findOrigin, originInUse } from './origin.js';
import type { RollbackOptions, RollbackResult } from './rollback.js';
import { nothingToCommit } from './states.js';
import { attachUpdateMerge, inspectUpdate, updateDevice } from './update-stack.js';

export async function rollbackUpdate(op: Operation, options: RollbackOptions): Promise<RollbackResult> {
  const m = op.manifest;
  const dev = updateDevice(m.name);
  const result = (outcome: RollbackResult['outcome'], message: string): RollbackResult => ({ name: m.name, outcome, message });
  if (options.offline) {
    throw new SnapstoreError('BAD_VALUE', `--offline: the rollback of an update merges nothing (it drops the snapshot; ${originLabel(m)} was never written)`, {
      hint: `run \`snapstore rollback ${m.name}\` without --offline`,
      usage: true,
    });
  }
  if (m.state === 'merging') {
    throw new SnapstoreError('BAD_STATE', `snapshot "${m.name}" is being committed: the update is merging into ${originLabel(m)}, and a merge only goes forward`, {
      hint: `\`snapstore commit ${m.name} --wait\` finishes it; \`snapstore status\` shows its progress`,
    });
  }
  if (options.keepStore && !m.keepStore) op.note({ keepStore: true }, 'the store is to be kept');
  if (m.state !== 'rolling-back') {
    const open = (op.dm.find(dev)?.openCount ?? 0) > 0;
    if (open) {
      if (m.state !== 'rollback-pending') op.advance('rollback-pending', `rollback asked while ${dev} is in use`);
      return result('pending', `${dev} is in use (the system runs from the update): the rollback of "${m.name}" is recorded and done at the next boot (\`snapstore activate\` drops the update before anything mounts it; then mount ${originLabel(m)})`);
    }
    op.advance('rolling-back', `rollback: the update is dropped, ${originLabel(m)} keeps its old contents`);
  }
  for (const line of await dropStack(op)) op.say(line);
  await finish(op, 'rolled-back', 'the update was dropped');
  return result('rolled-back', `snapshot "${m.name}" is rolled back: the update was dropped; ${originLabel(m)} holds the old contents, never written${storeNote(op)}`);
}

export interface CommitUpdateOptions extends MergeWaitOptions {
  readonly offline?: boolean;
  readonly onOfflineProgress?: OfflineOptions['onProgress'];
  /** --offline: data per batch (one origin flush and one store commit each; default 64 MiB) */
  readonly offlineBatch?: Bytes;
}

export type CommitUpdateOutcome = 'committed' | 'merging' | 'already';

/** Starts the kernel's merge on `snapstore-NAME` (or finds it running): "merging" is written before the first table switch. */
async function startKernelMerge(op: Operation): Promise<void> {
  const m = op.manifest;
  const origin = await findOrigin(op);
  const s = inspectUpdate(op.dm, op.name, origin.dev);
  if (s.kind === 'absent') {
    const busy = await originInUse(op, origin);
    if (busy !== undefined) {
      throw new SnapstoreError('ORIGIN_BUSY', `${originLabel(m)}, the origin of snapshot "${m.name}", ${busy}: the merge cannot take it`, { hint: 'unmount it and run this again; activate at boot does this before anything mounts it' });
    }
  }
  if (m.state !== 'merging') {
    refuseInvalid(op, s.kind === 'absent');
    op.advance('merging', `commit: the kernel merges the update into ${originLabel(m)}`, { mergeOwner: 'kernel' });
  } else if (m.mergeOwner === 'offline') {
    op.note({ mergeOwner: 'kernel' }, 'the merge begun offline is handed to the kernel');
  }
  if (s.kind === 'merge') return;
  const cow = await ensureCow(op, readManifest(op.lock.dir, m.store));
  await attachUpdateMerge(op, origin.dev, cow);
}

export async function commitUpdate(op: Operation, options: CommitUpdateOptions): Promise<{ outcome: CommitUpdateOutcome; message: string }> {
  const m = op.manifest;
  const dev = updateDevice(m.name);
  if (m.state === 'committed') {
    if (m.storePending) await finish(op, 'committed', 'the store deleted on a rerun');
    return { outcome: 'already', message: `snapshot "${m.name}" was already committed` };
  }
  if (m.state !== 'active' && m.state !== 'rollback-pending' && m.state !== 'merging') {
    throw new SnapstoreError('BAD_STATE', `snapshot "${m.name}" is ${m.state}: ${m.state === 'creating' ? 'its create did not finish' : 'the update was dropped'}`, {
      hint: m.state === 'creating' ? 'run `snapstore recover` first' : `${nothingToCommit('update')}${m.state.endsWith('ing') ? `; \`snapstore recover\` finishes the ${m.state === 'rolling-back' ? 'rollback' : 'discard'}` : ''}`,
    });
  }
  const done = `snapshot "${m.name}" is committed: ${originLabel(m)} holds the update`;
  if (options.offline && !(m.state === 'merging' && m.mergeDone)) {
    const summary = await mergeOffline(op, offlineOptions(options));
    return { outcome: 'committed', message: `${done} (merged offline: ${summary.chunks} chunks${summary.alreadyMerged ? `, ${summary.alreadyMerged} by an earlier run` : ''}); mount ${originLabel(m)} from now on${storeNote(op)}` };
  }
  if (m.state === 'merging' && m.mergeDone) {
    await finishMergeIfDone(op);
    return { outcome: 'committed', message: `${done}${storeNote(op)}` };
  }
  await startKernelMerge(op);
  const where = await goOnMerging(op, options);
  if (where === 'done') return { outcome: 'committed', message: `${done}${storeNote(op)}; from the next boot on, mount ${originLabel(m)} (${dev} goes)` };
  if (where === 'absent') return { outcome: 'merging', message: `the commit of "${m.name}" is recorded as merging; it goes on at the next \`snapstore activate\`` };
  return { outcome: 'merging', message: `the commit of "${m.name}" is merging in the kernel: ${dev} shows the new contents meanwhile; \`snapstore commit ${m.name} --wait\` waits for it, \`snapstore status\` shows its progress` };
}
