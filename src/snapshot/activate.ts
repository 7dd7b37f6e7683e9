/**
 * `snapstore activate`: after a reboot, before the origin's filesystem is
 * mounted, the stack is rebuilt from the manifest under the same names
 * (only the origin, the system's own device, exists then). The store's map
 * is trusted only once its manifest validates and its header, read raw
 * through the map, agrees. A pending rollback starts its merge here; a
 * merge that was running goes on. Idempotent.
 */
import * as fs from 'node:fs';
import { SnapstoreError } from '../errors.js';
import type { StoreManifest } from '../store/manifest.js';
import { StateDir } from '../state/state-dir.js';
import { readManifest } from '../store/manifest.js';
import { attachMerge, attachSnapshot, dropStack, ensureCow, ensureReal, ownTable } from './build.js';
import { checkStoreHeader, storeDevice, storeOnOrigin } from './checks.js';
import { Operation, withLifecycle, type LifecycleOptions } from './context.js';
import { finish } from './finish.js';
import { readSnapshot, snapshotNames } from './manifest.js';
import { finishMergeIfDone } from './merge.js';
import { recoverCreating } from './recover.js';
import { inspectStack } from './stack.js';
import { isFinished } from './states.js';

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
  | 'invalid';

export interface ActivateResult {
  readonly name: string;
  readonly action: ActivateAction;
  readonly message: string;
}

export async function activateSnapshots(options: ActivateOptions): Promise<ActivateResult[]> {
  const log = options.log ?? (() => {});
  // At boot on a system that never made a snapshot there is nothing to do, and that is no error.
  if (!options.names?.length && !StateDir.find(options.stateDir)) return [];
  return withLifecycle(options, false, async (platform, lock) => {
    const names = options.names?.length ? options.names : snapshotNames(lock.dir, (d) => fs.readdirSync(d));
    const out: ActivateResult[] = [];
    for (const name of names) {
      const op = new Operation(platform, lock, readSnapshot(lock.dir, name), log);
      out.push(await activateOne(op));
    }
    return out;
  });
}

/** The origin present, not mounted, and (for a live snapshot) not already carrying a stack of someone else's. */
function needOrigin(op: Operation) {
  const { dmName, dmUuid } = op.manifest.origin;
  const info = op.dm.find(dmName);
  if (!info) {
    throw new SnapstoreError('ORIGIN_CHANGED', `the origin of snapshot "${op.name}", dm device ${dmName}, is not present`, {
      hint: 'activate runs after the origin device is set up at boot (its passthrough) and before its filesystem is mounted',
    });
  }
  if (dmUuid !== '' && info.uuid !== dmUuid) {
    throw new SnapstoreError('ORIGIN_CHANGED', `dm device ${dmName} has uuid "${info.uuid}", not "${dmUuid}" as when snapshot "${op.name}" was made: it is another device`, {
      hint: 'nothing was changed; check which device carries that filesystem now',
    });
  }
  return info;
}

/** The store's header on the disk agrees with its manifest; a store the kernel marked invalid is reported. */
function checkHeader(op: Operation, store: StoreManifest): 'valid' | 'invalid' {
  const dev = storeOnOrigin(store, op.manifest.origin.dmName) ? needOrigin(op).dev : storeDevice(op.dm, store);
  if (!dev) {
    throw new SnapstoreError('DEVICE_NOT_FOUND', `the device of store "${store.name}" (dm device ${store.device.dmName ?? store.device.kernelName}) is not present`, {
      hint: 'set up the device the store lives on first',
    });
  }
  const h = checkStoreHeader(op.platform, dev, store);
  if (!h.written) {
    throw new SnapstoreError('STORE_HEADER_MISMATCH', `the header of store "${store.name}" is all zeros: no snapshot ever wrote to it, though snapshot "${op.name}" was made over it`, {
      hint: 'nothing was changed; the map does not point at the store. `snapstore commit` drops the snapshot without using it',
    });
  }
  return h.valid ? 'valid' : 'invalid';
}

async function activateOne(op: Operation): Promise<ActivateResult> {
  const m = op.manifest;
  const result = (action: ActivateAction, message: string): ActivateResult => ({ name: m.name, action, message });
  if (isFinished(m.state)) return result('nothing', `snapshot "${m.name}" is ${m.state}; nothing to activate`);
  if (m.state === 'creating') {
    await recoverCreating(op);
    return result('undone', `snapshot "${m.name}" was still being created when the system went down: its partial work was undone`);
  }
  if (m.state === 'committing' || m.state === 'discarding') {
    await dropStack(op);
    await finish(op, m.state === 'committing' ? 'committed' : 'discarded', 'finished at activate');
    return result('finished', `snapshot "${m.name}" was being ${m.state === 'committing' ? 'committed' : 'discarded'}: finished`);
  }
  if (m.state === 'merging' && m.mergeOwner === 'offline') {
    throw new SnapstoreError('BAD_STATE', `snapshot "${m.name}" is being merged offline: the kernel must not take it over from here`, {
      hint: 'finish it with `snapstore rollback --offline` (the origin must stay unmounted)',
    });
  }
  if (m.state === 'merging' && m.mergeDone) {
    await finishMergeIfDone(op);
    return result('merge-finished', `the rollback of "${m.name}" had merged: its clean-up is done`);
  }
  const origin = needOrigin(op);
  const s = inspectStack(op.dm, m.name, m.origin.dmName);
  if (m.state === 'active' && s.originKind === 'origin' && s.snap) return result('already-active', `snapshot "${m.name}" is already active`);
  if (m.state === 'merging' && s.originKind === 'merge') {
    if (await finishMergeIfDone(op)) return result('merge-finished', `the rollback of "${m.name}" had finished merging: the origin is back on its own table`);
    return result('merging', `the rollback of "${m.name}" is merging`);
  }
  const mounted = op.platform.mountedAt(origin.dev);
  if (mounted !== undefined && s.originKind === 'plain') {
    throw new SnapstoreError(
      'ORIGIN_MOUNTED',
      `${m.origin.dmName} is mounted at ${mounted} before snapshot "${m.name}" was activated: whatever was written since the boot is not in the snapshot, so rebuilding it now would make a rollback mix old and new data`,
      { hint: 'run `snapstore activate` at boot, before the filesystem is mounted (the boot unit does). To keep what is there now, `snapstore commit` the snapshot' },
    );
  }
  if (s.originKind === 'foreign') {
    throw new SnapstoreError('STACK_MISMATCH', `${m.origin.dmName} carries a snapshot table that is not snapshot "${m.name}"'s`, { hint: '`dmsetup table` shows it; nothing was changed' });
  }
  const store = readManifest(op.lock.dir, m.store);
  if (checkHeader(op, store) === 'invalid') {
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
    return result('merge-started', `the rollback of "${m.name}" started: ${m.origin.dmName} shows the old contents and can be mounted now; the kernel merges underneath`);
  }
  if (m.state === 'merging') {
    await attachMerge(op, real, cow);
    return result('merging', `the rollback of "${m.name}" goes on: ${m.origin.dmName} shows the old contents; the kernel merges underneath`);
  }
  await attachSnapshot(op, real, cow);
  return result('activated', `snapshot "${m.name}" is active again over ${m.origin.dmName}`);
}
