/**
 * `snapstore recover`: after a crash or a power cut, reconcile what the
 * manifests say with what the kernel has, by finishing or undoing each
 * interrupted step, and say what was done. Devices left suspended are
 * resumed (their inactive table dropped first, so nothing half-loaded goes
 * live); a create that did not finish is undone; a commit, discard or a
 * finished merge is completed; a store waiting for its filesystem is
 * deleted once it is there. A second run does nothing.
 */
import * as fs from 'node:fs';
import { SnapstoreError } from '../errors.js';
import { parseDmUuid, UUID_PREFIX } from '../state/names.js';
import { creatingExists } from '../store/creating.js';
import { findManifest } from '../store/manifest.js';
import { attachMerge, dropStack, ensureCow, ensureReal, ownTable } from './build.js';
import { Operation, withLifecycle, type LifecycleOptions } from './context.js';
import { finish } from './finish.js';
import { findSnapshot, readSnapshot, snapshotNames } from './manifest.js';
import { finishMergeIfDone, mergeStatus } from './merge.js';
import { inspectStack, stackNames } from './stack.js';
import { catchUpGrowth } from './extend.js';
import { originLabel } from './manifest.js';
import { findOrigin, mountedAbove } from './origin.js';
import { attachUpdateMerge, inspectUpdate, updateDevice } from './update-stack.js';
import { readManifest } from '../store/manifest.js';
import type { DeviceMapperApi } from '../dm/api.js';

export interface RecoverResult {
  /** what was done, one line each; empty when everything agreed */
  readonly actions: string[];
  /** what is as it should be, or waits for something (one line each) */
  readonly notes: string[];
}

/** Resumes a device left suspended, dropping its inactive table first; true when it had to. */
function resumeLeftSuspended(dm: DeviceMapperApi, name: string): boolean {
  const info = dm.find(name);
  if (!info?.suspended) return false;
  if (info.inactiveTable) dm.clear(name);
  dm.resume(name);
  return true;
}

/** The watcher stopped writes to `dev` on purpose: resuming it would fill the store and lose the snapshot. */
const stoppedNote = (name: string, dev: string): string =>
  `${dev} was suspended by the watcher (--on-full abort) before the store of "${name}" filled: left so. Reboot and roll back or commit, or free space and \`dmsetup resume ${dev}\``;

/** Undoes a create that did not finish: the origin back on its own table, our devices and the store gone. */
export async function recoverCreating(op: Operation): Promise<string[]> {
  const resumed = op.manifest.mode === 'checkpoint' && resumeLeftSuspended(op.dm, op.originDm);
  const done = [...(resumed ? [`resumed ${op.originDm}`] : []), ...(await dropStack(op))];
  const storeLeft = findManifest(op.lock.dir, op.manifest.store) !== undefined || creatingExists(op.lock.dir, op.manifest.store);
  if (storeLeft) {
    try {
      await op.platform.deleteStore(op.lock, op.manifest.store);
      done.push(`deleted store "${op.manifest.store}"`);
    } catch (err) {
      if (!(err instanceof SnapstoreError && err.code === 'STORE_FS_ABSENT')) throw err;
      op.advance('discarded', 'the interrupted create was undone; its store waits for its filesystem', { storePending: true });
      done.push(`the store of "${op.name}" waits for its filesystem to be mounted`);
      return done;
    }
  }
  op.advance('discarded', 'the interrupted create was undone');
  done.push(`undid the interrupted create of "${op.name}"`);
  return done;
}

/**
 * An offline merge that did not finish: no device of ours may stay over the
 * store it is consuming (the merge itself needs them gone, so they are taken
 * down); it goes on with `--offline`, or the kernel takes it over at the
 * next activate.
 */
const offlineNote = (op: Operation): string => {
  const verb = op.manifest.mode === 'update' ? 'commit' : 'rollback';
  return `the offline ${verb} of "${op.name}" did not finish: \`snapstore ${verb} ${op.name} --offline\` finishes it (the origin unused), or the kernel takes it over at the next \`snapstore activate\``;
};

/** The end of a step that drops the devices (commit, discard, an update's rollback), finished. */
async function finishDrop(op: Operation): Promise<string[]> {
  const m = op.manifest;
  const end = m.state === 'committing' ? 'committed' : m.state === 'rolling-back' ? 'rolled-back' : 'discarded';
  const done = await dropStack(op);
  await finish(op, end, 'finished by recover');
  return [...done, `finished the interrupted ${{ committed: 'commit', 'rolled-back': 'rollback', discarded: 'discard' }[end]} of "${m.name}"`];
}

async function recoverUpdateOne(op: Operation): Promise<RecoverResult> {
  const m = op.manifest;
  const actions: string[] = [];
  const notes: string[] = [];
  const dev = updateDevice(m.name);
  for (const d of [dev, stackNames(m.name).cow]) {
    if (d === m.writesStopped && op.dm.find(d)?.suspended) notes.push(stoppedNote(m.name, d));
    else if (resumeLeftSuspended(op.dm, d)) actions.push(`resumed ${d}, left suspended`);
  }
  const s = inspectUpdate(op.dm, op.name);
  switch (m.state) {
    case 'active':
    case 'rollback-pending':
      if (s.kind === 'absent' && s.cow) actions.push(...(await dropStack(op)), `took down a half-built stack of "${m.name}" (\`snapstore activate\` builds it again)`);
      else if (s.kind === 'snapshot') {
        actions.push(...(await catchUpGrowth(op)));
        notes.push(`"${m.name}" is ${m.state} and live as ${dev}`);
      }
      else notes.push(`"${m.name}" is ${m.state}; ${dev} is built by \`snapstore activate\` at boot`);
      break;
    case 'merging':
      if (m.mergeDone) {
        await finishMergeIfDone(op);
        actions.push(`finished the clean-up of "${m.name}"'s merge, which was complete`);
      } else if (m.mergeOwner === 'offline') {
        if (s.kind !== 'absent' || s.cow) actions.push(...(await dropStack(op)));
        notes.push(offlineNote(op));
        break;
      } else if (s.kind === 'snapshot') {
        // "merging" was written; the switch to snapshot-merge did not happen yet.
        await attachUpdateMerge(op, (await findOrigin(op)).dev, s.cow!);
        actions.push(`started the merge of "${m.name}" that was interrupted before it began`);
      } else if (s.kind === 'absent') {
        // The merge table never went live: a half-built stack is taken down.
        if (s.cow) actions.push(...(await dropStack(op)));
        notes.push(`the commit of "${m.name}" goes on at the next \`snapstore activate\``);
      }
      if (!m.mergeDone && mergeStatus(op)) {
        if (await finishMergeIfDone(op)) actions.push(`the merge of "${m.name}" had finished: ${originLabel(m)} holds the update`);
        else notes.push(`the commit of "${m.name}" is merging`);
      }
      break;
    case 'rolling-back':
    case 'discarding':
      actions.push(...(await finishDrop(op)));
      break;
    default:
      notes.push(...(await finishPendingStore(op, actions)));
  }
  return { actions, notes };
}

/** A finished snapshot whose store waited for its filesystem: deleted once it is there. */
async function finishPendingStore(op: Operation, actions: string[]): Promise<string[]> {
  const m = op.manifest;
  if (!m.storePending) return [];
  await finish(op, m.state, 'store deleted by recover');
  if (op.manifest.storePending) return [`the store of "${m.name}" still waits for its filesystem to be mounted`];
  actions.push(`deleted the store of "${m.name}", which waited for its filesystem`);
  return [];
}

async function recoverOne(op: Operation): Promise<RecoverResult> {
  const m = op.manifest;
  const actions: string[] = [];
  const notes: string[] = [];
  if (m.state === 'creating') return { actions: await recoverCreating(op), notes };
  if (m.mode === 'update') return recoverUpdateOne(op);
  const d = op.originDm;
  if (['active', 'rollback-pending', 'merging', 'committing', 'discarding', 'rolling-back'].includes(m.state)) {
    const n = stackNames(m.name);
    for (const dev of [d, n.real, n.cow, n.snap]) {
      if (dev === m.writesStopped && op.dm.find(dev)?.suspended) notes.push(stoppedNote(m.name, dev));
      else if (resumeLeftSuspended(op.dm, dev)) actions.push(`resumed ${dev}, left suspended`);
    }
  }
  const s = inspectStack(op.dm, m.name, d);
  switch (m.state) {
    case 'active':
    case 'rollback-pending':
      if (s.originKind === 'plain' && (s.real || s.cow || s.snap)) {
        actions.push(...(await dropStack(op)), `took down a half-built stack of "${m.name}" (\`snapstore activate\` builds it again)`);
      } else if (s.originKind === 'origin') {
        actions.push(...(await catchUpGrowth(op)));
        notes.push(`"${m.name}" is ${m.state} and live`);
      }
      else notes.push(`"${m.name}" is ${m.state}; its devices are built by \`snapstore activate\` at boot`);
      break;
    case 'merging':
      if (m.mergeDone) {
        await finishMergeIfDone(op);
        actions.push(`finished the clean-up of "${m.name}"'s merge, which was complete`);
        break;
      }
      if (m.mergeOwner === 'offline') {
        if (s.originKind !== 'plain' || s.real || s.cow || s.snap) actions.push(...(await dropStack(op)));
        notes.push(offlineNote(op));
        break;
      }
      if (s.originKind === 'plain' && (s.real || s.cow || s.snap)) {
        // The merge table never went live (an activate or rollback died before it): take the pieces down.
        actions.push(...(await dropStack(op)));
        notes.push(`the rollback of "${m.name}" goes on at the next \`snapstore activate\``);
        break;
      }
      if (s.originKind === 'origin') {
        // "merging" was written; the switch to snapshot-merge did not happen yet.
        const origin = op.dm.find(d);
        const mounted = origin ? mountedAbove(op.platform, origin.dev) : undefined;
        if (mounted !== undefined) {
          notes.push(`the rollback of "${m.name}" was about to merge but ${d} is mounted at ${mounted}: unmount it and run \`snapstore rollback ${m.name}\`, or reboot (activate goes on)`);
          break;
        }
        const real = await ensureReal(op, ownTable(op, s));
        const cow = await ensureCow(op, readManifest(op.lock.dir, m.store), real);
        await attachMerge(op, real, cow);
        actions.push(`started the merge of "${m.name}" that was interrupted before it began`);
      }
      if (mergeStatus(op)) {
        if (await finishMergeIfDone(op)) actions.push(`the merge of "${m.name}" had finished: ${d} is back on its own table`);
        else notes.push(`the rollback of "${m.name}" is merging`);
      } else if (s.originKind === 'plain') notes.push(`the rollback of "${m.name}" goes on at the next \`snapstore activate\``);
      break;
    case 'committing':
    case 'discarding':
      actions.push(...(await finishDrop(op)));
      break;
    default:
      notes.push(...(await finishPendingStore(op, actions)));
  }
  return { actions, notes };
}

export async function recoverSnapshots(options: LifecycleOptions): Promise<RecoverResult> {
  const log = options.log ?? (() => {});
  return withLifecycle(options, false, async (platform, lock) => {
    const actions: string[] = [];
    const notes: string[] = [];
    const names = snapshotNames(lock.dir, (d) => fs.readdirSync(d));
    for (const name of names) {
      const r = await recoverOne(new Operation(platform, lock, readSnapshot(lock.dir, name), log));
      actions.push(...r.actions);
      notes.push(...r.notes);
    }
    // Devices of ours that no unfinished snapshot accounts for.
    const order = ['view', 'snap', 'update', 'origin', 'cow', 'real'];
    const rank = (uuid: string | null) => order.indexOf(parseDmUuid(uuid ?? '')?.role ?? 'real');
    for (const dev of platform.dm.list(UUID_PREFIX).sort((a, b) => rank(a.uuid) - rank(b.uuid))) {
      const ours = parseDmUuid(dev.uuid ?? '');
      // A cow device of no snapshot is a store attached by `store attach`; an enrolled partition's passthrough stays: not ours to take.
      if (!ours || ours.role === 'origin' || (ours.role === 'cow' && !findSnapshot(lock.dir, ours.name))) continue;
      const m = findSnapshot(lock.dir, ours.name);
      if (m && !['committed', 'rolled-back', 'discarded'].includes(m.state)) continue;
      const info = platform.dm.find(dev.name);
      if (!info) continue;
      if (info.openCount > 0) {
        notes.push(`${dev.name} is ours but belongs to no snapshot in progress, and it is open: left alone`);
        continue;
      }
      try {
        if (info.suspended) resumeLeftSuspended(platform.dm, dev.name);
        await platform.dm.remove(dev.name);
        actions.push(`removed ${dev.name}, left over (no snapshot in progress uses it)`);
      } catch (err) {
        notes.push(`${dev.name} is left over but could not be removed: ${(err as Error).message}`);
      }
    }
    return { actions, notes };
  });
}
