/**
 * The devices of an update-mode snapshot NAME over origin D (Virtual A/B's
 * way: the origin is never written until commit):
 *   snapstore-NAME-cow  the store as a block device (`linear` segments)
 *   snapstore-NAME      `snapshot D cow P chunk`: the writable snapshot the
 *                       updater writes into and the system mounts;
 *                       `snapshot-merge D cow P chunk` while committing (it
 *                       keeps showing the new contents, the kernel merges
 *                       them into D underneath; the table swap hands the
 *                       exceptions over, so it can be done while mounted);
 *                       `linear D` when the merge is done but it is still
 *                       mounted (gone at the next boot: then D is mounted).
 * D keeps its own table: the snapshot's claim on it keeps a filesystem from
 * mounting it meanwhile. Each step does only what is missing.
 */
import type { DeviceInfo, DeviceMapperApi } from '../dm/api.js';
import { LinearTarget, SnapshotMergeTarget, SnapshotTarget, type Target } from '../dm/targets.js';
import { SnapstoreError } from '../errors.js';
import { sameDevice, type DeviceNumber } from '../linux/device-number.js';
import { dmName, dmUuid } from '../state/names.js';
import type { ChunkSize, Sectors } from '../units/units.js';
import { chunkSize } from '../units/units.js';
import type { Operation } from './context.js';
import { originLabel } from './manifest.js';
import { stackNames } from './stack.js';

export const updateDevice = (name: string): string => dmName(name, 'update');
const updateUuid = (name: string): string => dmUuid(name, 'update');

const snapshotTable = (length: Sectors, origin: DeviceNumber, cow: DeviceNumber, chunk: ChunkSize): Target[] => [new SnapshotTarget(length, origin, cow, 'P', chunk)];
const mergingTable = (length: Sectors, origin: DeviceNumber, cow: DeviceNumber, chunk: ChunkSize): Target[] => [new SnapshotMergeTarget(length, origin, cow, 'P', chunk)];

/** What `snapstore-NAME` carries now. */
export type UpdateKind = 'absent' | 'snapshot' | 'merge' | 'passthrough' | 'foreign';

export interface UpdateStack {
  readonly device: DeviceInfo | undefined;
  readonly kind: UpdateKind;
  readonly cow: DeviceInfo | undefined;
}

/** What the kernel has now for update snapshot `name` (over the origin `origin`, when known). */
export function inspectUpdate(dm: DeviceMapperApi, name: string, origin?: DeviceNumber): UpdateStack {
  const device = dm.find(updateDevice(name));
  const cow = dm.find(stackNames(name).cow);
  if (!device) return { device, kind: 'absent', cow };
  const table = device.activeTable ? dm.table(updateDevice(name)) : [];
  const only = table.length === 1 ? table[0] : undefined;
  const over = (d: DeviceNumber) => origin === undefined || sameDevice(d, origin);
  let kind: UpdateKind = 'foreign';
  if (only instanceof SnapshotTarget && over(only.origin) && cow && sameDevice(only.cow, cow.dev)) kind = 'snapshot';
  else if (only instanceof SnapshotMergeTarget && over(only.origin) && cow && sameDevice(only.cow, cow.dev)) kind = 'merge';
  else if (only instanceof LinearTarget && over(only.device) && only.offset === 0) kind = 'passthrough';
  return { device, kind, cow };
}

function length(op: Operation): Sectors {
  return op.manifest.origin.sectors as Sectors;
}

function refuseForeign(op: Operation, s: UpdateStack): void {
  if (s.kind === 'foreign') {
    throw new SnapstoreError('STACK_MISMATCH', `${updateDevice(op.name)} exists but is not snapshot "${op.name}" over ${originLabel(op.manifest)}`, {
      hint: '`dmsetup table` shows it; nothing was changed. `snapstore recover` removes what a crash left',
    });
  }
}

/** The writable snapshot `snapstore-NAME` over the origin (made if missing). */
export async function attachUpdate(op: Operation, origin: DeviceNumber, cow: DeviceInfo): Promise<DeviceInfo> {
  const s = inspectUpdate(op.dm, op.name, origin);
  refuseForeign(op, s);
  if (s.kind === 'snapshot') return s.device!;
  if (s.kind !== 'absent') {
    throw new SnapstoreError('STACK_MISMATCH', `${updateDevice(op.name)} carries ${s.kind === 'merge' ? 'the merge of the update' : 'a passthrough'}, not the snapshot`, { hint: '`snapstore status` shows where it stands' });
  }
  op.say(`creating ${updateDevice(op.name)}: the snapshot of ${originLabel(op.manifest)} the update is written into (${op.name}'s store holds what it writes)`);
  return op.dm.createDevice(updateDevice(op.name), updateUuid(op.name), snapshotTable(length(op), origin, cow.dev, chunkSize(op.manifest.chunkSize)));
}

/**
 * The commit's merge: `snapstore-NAME` carries snapshot-merge over the
 * origin. A live snapshot is reloaded in place under one suspend (its
 * filesystem frozen), so a system running from it keeps running.
 */
export async function attachUpdateMerge(op: Operation, origin: DeviceNumber, cow: DeviceInfo): Promise<void> {
  const s = inspectUpdate(op.dm, op.name, origin);
  refuseForeign(op, s);
  if (s.kind === 'merge') return;
  const table = mergingTable(length(op), origin, cow.dev, chunkSize(op.manifest.chunkSize));
  const name = updateDevice(op.name);
  if (s.kind === 'absent') {
    op.say(`creating ${name} with snapshot-merge: it shows the new contents at once, the kernel merges them into ${originLabel(op.manifest)} underneath`);
    await op.dm.createDevice(name, updateUuid(op.name), table);
    return;
  }
  if (s.kind === 'passthrough') throw new SnapstoreError('STACK_MISMATCH', `${name} is a passthrough already: the merge was done`, { hint: '`snapstore status` shows where it stands' });
  op.say(`loading snapshot-merge on ${name}: it keeps showing the new contents, the kernel merges them into ${originLabel(op.manifest)} underneath`);
  await op.suspended(name, async () => {
    op.dm.load(name, table);
    op.dm.resume(name);
  });
}

/**
 * The update's devices gone: `snapstore-NAME` removed (or, when the merge is
 * done and it is still open, turned into a passthrough over the origin, which
 * now holds the same contents), then the store's device.
 */
export async function dropUpdateStack(op: Operation): Promise<string[]> {
  const name = updateDevice(op.name);
  const done: string[] = [];
  const s = inspectUpdate(op.dm, op.name);
  refuseForeign(op, s);
  if (s.device) {
    if (s.device.suspended) op.dm.resume(name);
    const open = (op.dm.find(name)?.openCount ?? 0) > 0;
    if (open && s.kind === 'passthrough') {
      done.push(`${name} stays a passthrough over ${originLabel(op.manifest)} while it is open`);
    } else if (open && op.manifest.mergeDone) {
      const origin = op.dm.table(name)[0] as SnapshotMergeTarget;
      op.say(`${name} is open: loading a passthrough over ${originLabel(op.manifest)} (it holds the same contents now); it goes at the next boot`);
      await op.suspended(name, async () => {
        op.dm.load(name, [new LinearTarget(length(op), origin.origin, 0 as Sectors)]);
        op.dm.resume(name);
      });
      done.push(`${name} is a passthrough over ${originLabel(op.manifest)} until it is closed`);
    } else if (open) {
      throw new SnapstoreError('DEVICE_BUSY', `${name} is open (mounted, or held by a program): the update in it cannot be dropped while it is used`, {
        hint: `unmount it (findmnt /dev/mapper/${name}) and run this again, or reboot: \`snapstore activate\` finishes it before anything mounts it`,
      });
    } else {
      await op.dm.remove(name);
      done.push(`removed ${name}`);
    }
  }
  // Nothing refers to the store's device any more.
  const cow = op.dm.find(stackNames(op.name).cow);
  if (cow) {
    if (cow.suspended) op.dm.resume(cow.name);
    await op.dm.remove(cow.name);
    done.push(`removed ${cow.name}`);
  }
  return done;
}
