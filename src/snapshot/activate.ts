/**
 * `snapstore activate`: after a reboot, before the origin's filesystem is
 * mounted, the stack is rebuilt from the manifest under the same names
 * (only the origin, the system's own device, exists then). The store's map
 * is trusted only once its manifest validates and its header, read raw
 * through the map, agrees. A pending rollback starts its merge here; a
 * merge that was running goes on. A snapshot with a boot budget has this
 * boot counted first, and is rolled back here once the budget is spent
 * (boot-attempts.ts). Idempotent.
 */
import * as fs from 'node:fs';
import { SnapstoreError } from '../errors.js';
import type { StoreManifest } from '../store/manifest.js';
import { StateDir } from '../state/state-dir.js';
import { readManifest } from '../store/manifest.js';
import { attachMerge, attachSnapshot, dropStack, ensureCow, ensureReal, ownTable } from './build.js';
import { checkStoreHeader, storeLocation } from './checks.js';
import { Operation, withLifecycle, type LifecycleOptions } from './context.js';
import { finish } from './finish.js';
import { readSnapshot, snapshotNames } from './manifest.js';
import { finishMergeIfDone } from './merge.js';
import { recoverCreating } from './recover.js';
import { inspectStack } from './stack.js';
import { findOrigin, mountedAbove, originInUse, type OriginNow } from './origin.js';
import { mapAllEnrolled, type MapAction } from './enroll.js';
import { originLabel } from './manifest.js';
import { attachUpdate, attachUpdateMerge, inspectUpdate, updateDevice } from './update-stack.js';
import { isFinished } from './states.js';
import { countBoot, type BootCount } from './boot-attempts.js';

export interface ActivateOptions extends LifecycleOptions {
  /** the snapshots to activate (default: every one recorded) */
  readonly names?: readonly string[];
}

export type ActivateAction =
  | 'activated'
  | 'already-active'
  | 'merge-started'
  | 'merging'
  | 'merge-finished'
  | 'finished'
  | 'undone'
  | 'nothing'
  | 'invalid'
  /** an enrolled partition's passthrough */
  | MapAction;

export interface ActivateResult {
  readonly name: string;
  readonly action: ActivateAction;
  readonly message: string;
  /** a snapshot with a boot budget: this boot counted, or the budget spent (the rollback started) */
  readonly bootAttempts?: BootCount;
}

export async function activateSnapshots(options: ActivateOptions): Promise<ActivateResult[]> {
  const log = options.log ?? (() => {});
  // At boot on a system that never made a snapshot there is nothing to do, and that is no error.
  if (!options.names?.length && !StateDir.find(options.stateDir)) return [];
  return withLifecycle(options, false, async (platform, lock) => {
    const names = options.names?.length ? options.names : snapshotNames(lock.dir, (d) => fs.readdirSync(d));
    // Enrolled partitions first: a checkpoint of one is over its passthrough.
    const out: ActivateResult[] = await mapAllEnrolled(platform, lock);
    for (const r of out) log(r.message);
    for (const name of names) {
      const op = new Operation(platform, lock, readSnapshot(lock.dir, name), log);
      out.push(await activateOne(op));
    }
    return out;
  });
}

/** The store's header on the disk agrees with its manifest; a store the kernel marked invalid is reported. */
function checkHeader(op: Operation, store: StoreManifest, origin: OriginNow): 'valid' | 'invalid' {
  const at = storeLocation(op.dm, op.manifest, store, origin.dev);
  if (!at) {
    throw new SnapstoreError('DEVICE_NOT_FOUND', `the device of store "${store.name}" (dm device ${store.device.dmName ?? store.device.kernelName}) is not present`, {
      hint: 'set up the device the store lives on first',
    });
  }
  const h = checkStoreHeader(op.platform, at, store);
  if (!h.written) {
    throw new SnapstoreError('STORE_HEADER_MISMATCH', `the header of store "${store.name}" is all zeros: no snapshot ever wrote to it, though snapshot "${op.name}" was made over it`, {
      hint: 'nothing was changed; the map does not point at the store. `snapstore commit` drops the snapshot without using it',
    });
  }
  return h.valid ? 'valid' : 'invalid';
}

/**
 * An offline merge that did not finish (a crash, a power cut: it runs under
 * our lock, so none runs now) is finished by the kernel: the origin then
 * shows the right contents from this boot on. `--offline` takes it back.
 */
function handOverOfflineMerge(op: Operation): void {
  if (op.manifest.state === 'merging' && op.manifest.mergeOwner === 'offline' && !op.manifest.mergeDone) {
    op.note({ mergeOwner: 'kernel' }, 'the offline merge did not finish: the kernel finishes it from activate');
    op.say(`the offline merge of "${op.name}" did not finish: the kernel's merge takes it over`);
  }
}

async function activateOne(op: Operation): Promise<ActivateResult> {
  // Before anything else for this snapshot: a boot cut short counts too. A spent budget leaves the rollback pending, started below.
  const count = countBoot(op);
  const m = op.manifest;
  const result = (action: ActivateAction, message: string): ActivateResult => ({ name: m.name, action, message, ...(count ? { bootAttempts: count } : {}) });
  // A reboot undid the watcher's --on-full abort (no device stays suspended across it).
  if (m.writesStopped !== undefined && !op.dm.find(m.writesStopped)?.suspended) op.note({ writesStopped: undefined }, `the writes the watcher stopped on ${m.writesStopped} ended with the boot`);
  if (isFinished(m.state)) return result('nothing', `snapshot "${m.name}" is ${m.state}; nothing to activate`);
  if (m.mode === 'update') return activateUpdate(op, result);
  if (m.state === 'creating') {
    await recoverCreating(op);
    return result('undone', `snapshot "${m.name}" was still being created when the system went down: its partial work was undone`);
  }
  if (m.state === 'committing' || m.state === 'discarding') {
    await dropStack(op);
    await finish(op, m.state === 'committing' ? 'committed' : 'discarded', 'finished at activate');
    return result('finished', `snapshot "${m.name}" was being ${m.state === 'committing' ? 'committed' : 'discarded'}: finished`);
  }
  handOverOfflineMerge(op);
  if (m.state === 'merging' && m.mergeDone) {
    await finishMergeIfDone(op);
    return result('merge-finished', `the rollback of "${m.name}" had merged: its clean-up is done`);
  }
  const origin = (await findOrigin(op)).dm!;
  const s = inspectStack(op.dm, m.name, op.originDm);
  if (m.state === 'active' && s.originKind === 'origin' && s.snap) return result('already-active', `snapshot "${m.name}" is already active`);
  if (m.state === 'merging' && s.originKind === 'merge') {
    if (await finishMergeIfDone(op)) return result('merge-finished', `the rollback of "${m.name}" had finished merging: the origin is back on its own table`);
    return result('merging', `the rollback of "${m.name}" is merging`);
  }
  const mounted = mountedAbove(op.platform, origin.dev);
  if (mounted !== undefined && s.originKind === 'plain') {
    throw new SnapstoreError(
      'ORIGIN_MOUNTED',
      `${op.originDm} is mounted at ${mounted} before snapshot "${m.name}" was activated: whatever was written since the boot is not in the snapshot, so rebuilding it now would make a rollback mix old and new data`,
      { hint: 'run `snapstore activate` at boot, before the filesystem is mounted (the boot unit does). To keep what is there now, `snapstore commit` the snapshot' },
    );
  }
  if (s.originKind === 'foreign') {
    throw new SnapstoreError('STACK_MISMATCH', `${op.originDm} carries a snapshot table that is not snapshot "${m.name}"'s`, { hint: '`dmsetup table` shows it; nothing was changed' });
  }
  const store = readManifest(op.lock.dir, m.store);
  if (checkHeader(op, store, { dev: origin.dev, dm: origin }) === 'invalid') {
    op.note({ invalid: true }, 'the kernel marked the store invalid');
    return result('invalid', `snapshot "${m.name}" was invalidated by the kernel (its store filled up or failed): the rollback is lost. Nothing was activated; \`snapstore commit ${m.name}\` cleans up`);
  }
  // A stack left half-built by a crash is ours: take it down and build it again.
  if (s.originKind === 'plain' && (s.real || s.cow || s.snap)) await dropStack(op);
  const real = await ensureReal(op, ownTable(op, s));
  const cow = await ensureCow(op, store, real);
  if (m.state === 'rollback-pending') {
    op.advance('merging', 'the pending rollback starts at activate', { mergeOwner: 'kernel' });
    await attachMerge(op, real, cow);
    return result('merge-started', `the rollback of "${m.name}" started: ${op.originDm} shows the old contents and can be mounted now; the kernel merges underneath`);
  }
  if (m.state === 'merging') {
    await attachMerge(op, real, cow);
    return result('merging', `the rollback of "${m.name}" goes on: ${op.originDm} shows the old contents; the kernel merges underneath`);
  }
  await attachSnapshot(op, real, cow);
  return result('activated', `snapshot "${m.name}" is active again over ${op.originDm}`);
}

/**
 * Update mode at boot, before anything mounts the snapshot: `snapstore-NAME`
 * built again over the origin (the system mounts the new contents from it);
 * a commit's merge goes on; a rollback asked while it was mounted is done
 * now (the snapshot dropped: the origin, never written, is the old system).
 */
async function activateUpdate(op: Operation, result: (action: ActivateAction, message: string) => ActivateResult): Promise<ActivateResult> {
  const m = op.manifest;
  const dev = updateDevice(m.name);
  if (m.state === 'creating') {
    await recoverCreating(op);
    return result('undone', `snapshot "${m.name}" was still being created when the system went down: its partial work was undone`);
  }
  if (m.state === 'rollback-pending' || m.state === 'rolling-back' || m.state === 'discarding') {
    const end = m.state === 'discarding' ? 'discarded' : 'rolled-back';
    if (m.state === 'rollback-pending') op.advance('rolling-back', 'the pending rollback is done at activate: the update is dropped');
    await dropStack(op);
    await finish(op, end, `${end === 'discarded' ? 'discarded' : 'rolled back'} at activate`);
    return result('finished', `snapshot "${m.name}" ${end}: the update was dropped and ${originLabel(m)} holds the old contents, untouched; mount it, not ${dev}`);
  }
  handOverOfflineMerge(op);
  if (m.state === 'merging' && m.mergeDone) {
    await finishMergeIfDone(op);
    return result('merge-finished', `the commit of "${m.name}" had merged: its clean-up is done; mount ${originLabel(m)}`);
  }
  const origin = await findOrigin(op);
  const s = inspectUpdate(op.dm, op.name, origin.dev);
  if (m.state === 'active' && s.kind === 'snapshot') return result('already-active', `snapshot "${m.name}" is already active as ${dev}`);
  if (m.state === 'merging' && s.kind === 'merge') {
    if (await finishMergeIfDone(op)) return result('merge-finished', `the commit of "${m.name}" had finished merging: ${originLabel(m)} holds the update`);
    return result('merging', `the commit of "${m.name}" is merging into ${originLabel(m)}; ${dev} shows the new contents`);
  }
  if (s.kind === 'absent') {
    const busy = await originInUse(op, origin);
    if (busy !== undefined) {
      throw new SnapstoreError('ORIGIN_BUSY', `the origin of snapshot "${m.name}", ${originLabel(m)}, ${busy}: whatever wrote to it since the boot is not in the snapshot, so the update over it may no longer fit`, {
        hint: `activate runs at boot before anything mounts the origin (the boot unit does). If nothing wrote to it, unmount it and run activate again; otherwise \`snapstore rollback ${m.name}\` drops the update`,
      });
    }
  }
  const store = readManifest(op.lock.dir, m.store);
  if (checkHeader(op, store, origin) === 'invalid') {
    op.note({ invalid: true }, 'the kernel marked the store invalid');
    return result('invalid', `snapshot "${m.name}" was invalidated by the kernel (its store filled up or failed): the update in it is incomplete. Nothing was activated; \`snapstore rollback ${m.name}\` drops it (${originLabel(m)} holds the old contents)`);
  }
  const cow = await ensureCow(op, store);
  if (m.state === 'merging') {
    await attachUpdateMerge(op, origin.dev, cow);
    return result('merging', `the commit of "${m.name}" goes on: ${dev} shows the new contents and can be mounted; the kernel merges them into ${originLabel(m)} underneath`);
  }
  await attachUpdate(op, origin.dev, cow);
  return result('activated', `snapshot "${m.name}" is active again: the update is in ${dev}`);
}
