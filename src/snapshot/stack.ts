/**
 * The devices of a snapshot NAME over origin D (checkpoint mode, as LVM does
 * for a mounted origin):
 *   snapstore-NAME-real  D's own table, moved aside
 *   snapstore-NAME-cow   the store as a block device (`linear` segments)
 *   snapstore-NAME-snap  `snapshot real cow P chunk`: the way back
 *   D                    `snapshot-origin real` while the snapshot lives,
 *                        `snapshot-merge real cow P chunk` while rolling back,
 *                        its own table again when done.
 * The tables are built here, in memory, before anything is suspended; what
 * the kernel has now is read by `inspectStack`.
 */
import type { DeviceInfo, DeviceMapperApi } from '../dm/api.js';
import { coalesceMappings, passthrough, translate, type DeviceMapping } from '../dm/stack.js';
import { LinearTarget, SnapshotMergeTarget, SnapshotOriginTarget, SnapshotTarget, type Target } from '../dm/targets.js';
import { SnapstoreError } from '../errors.js';
import type { DeviceNumber } from '../linux/device-number.js';
import { sameDevice } from '../linux/device-number.js';
import { dmName, dmUuid } from '../state/names.js';
import { storeMappings } from '../store/attach.js';
import type { StoreManifest } from '../store/manifest.js';
import type { ChunkSize, Sectors } from '../units/units.js';
import { sectors } from '../units/units.js';

export interface StackNames {
  readonly real: string;
  readonly cow: string;
  readonly snap: string;
}

export const stackNames = (name: string): StackNames => ({ real: dmName(name, 'real'), cow: dmName(name, 'cow'), snap: dmName(name, 'snap') });
export const stackUuids = (name: string): StackNames => ({ real: dmUuid(name, 'real'), cow: dmUuid(name, 'cow'), snap: dmUuid(name, 'snap') });

export const originTable = (length: Sectors, real: DeviceNumber): Target[] => [new SnapshotOriginTarget(length, real)];
export const snapTable = (length: Sectors, real: DeviceNumber, cow: DeviceNumber, chunk: ChunkSize): Target[] => [new SnapshotTarget(length, real, cow, 'P', chunk)];
export const mergeTable = (length: Sectors, real: DeviceNumber, cow: DeviceNumber, chunk: ChunkSize): Target[] => [new SnapshotMergeTarget(length, real, cow, 'P', chunk)];

export const tableSectors = (table: readonly Target[]): Sectors => sectors(table.reduce((n, t) => n + t.length, 0));

/**
 * The COW device's table. A store on the origin's own filesystem maps onto
 * `real` at its FIEMAP offsets (never through the origin: the kernel must not
 * copy the store's own writes); one on a crypt layer over the origin, at those
 * offsets plus the crypt's data offset. A store on another filesystem, on a dm
 * device F, is translated through F's table onto the devices below it.
 */
export function cowTable(dm: DeviceMapperApi, store: StoreManifest, onOrigin: { readonly dmName: string; readonly real: DeviceNumber; readonly beneath?: { readonly crypt: string; readonly offset: number } } | undefined): Target[] {
  let pieces: DeviceMapping[];
  const fsDm = store.device.dmName;
  if (onOrigin !== undefined && fsDm === onOrigin.dmName) {
    pieces = storeMappings(store.segments, onOrigin.real);
  } else if (onOrigin?.beneath !== undefined && fsDm === onOrigin.beneath.crypt) {
    // The store's filesystem is the crypt layer over the origin: its extents lie past the crypt's data offset, beneath it.
    const shift = onOrigin.beneath.offset;
    pieces = storeMappings(store.segments, onOrigin.real).map((p) => ({ ...p, offset: sectors(p.offset + shift) }));
  } else {
    const f = fsDm === undefined ? undefined : dm.find(fsDm);
    if (f === undefined) {
      throw new SnapstoreError(
        'ORIGIN_UNSUPPORTED',
        `store "${store.name}" is on ${fsDm ? `dm device ${fsDm}, which is not present` : `${store.device.kernelName}, which is not a dm device`}: a snapshot's store must lie on the origin's filesystem or on a filesystem over a dm device`,
        { hint: 'put the store on the filesystem being snapshotted (checkpoint mode), or on a filesystem mounted from a dm device (LVM, a passthrough; `snapstore enroll` sets one up for a partition)' },
      );
    }
    const below = passthrough(dm.table(fsDm!));
    if ('blocker' in below) {
      throw new SnapstoreError('STACK_UNSUPPORTED', `store "${store.name}" is on dm device ${fsDm}, whose table has a ${below.blocker.type} target: the store cannot be mapped beneath it`, {
        hint: 'put the store on the filesystem being snapshotted, or on a linear dm device',
      });
    }
    pieces = translate(storeMappings(store.segments, f.dev), below.segments, fsDm!);
  }
  return coalesceMappings(pieces).map((p) => new LinearTarget(p.length, p.device, p.offset));
}

/**
 * Whether linear table `next` maps everything `now` maps, to the same
 * places, and more after it: a COW device whose store grew (extend). The
 * tables are compared sector range by sector range, since coalescing can
 * join the old last segment with a new one.
 */
export function grownFrom(now: readonly Target[], next: readonly Target[]): boolean {
  const end = tableSectors(now);
  if (tableSectors(next) <= end) return false;
  let j = 0;
  let nextStart = 0;
  let at = 0;
  for (const t of now) {
    if (!(t instanceof LinearTarget)) return false;
    for (let done = 0; done < t.length; ) {
      while (j < next.length && nextStart + next[j]!.length <= at) nextStart += next[j++]!.length;
      const u = next[j];
      if (!(u instanceof LinearTarget) || !sameDevice(u.device, t.device) || u.offset + (at - nextStart) !== t.offset + done) return false;
      const step = Math.min(t.length - done, nextStart + u.length - at);
      done += step;
      at += step;
    }
  }
  return next.every((t) => t instanceof LinearTarget);
}

/** What the origin's live table is, seen from this snapshot's devices. */
export type OriginKind =
  /** its own table (no snapshot of ours on it) */
  | 'plain'
  /** snapshot-origin over our real device: the snapshot lives */
  | 'origin'
  /** snapshot-merge over our real and cow devices: the rollback is merging */
  | 'merge'
  /** a snapshot target of someone else's, or over other devices */
  | 'foreign';

export interface StackState {
  readonly origin: DeviceInfo | undefined;
  readonly originTable: Target[];
  readonly originKind: OriginKind;
  readonly real: DeviceInfo | undefined;
  readonly cow: DeviceInfo | undefined;
  readonly snap: DeviceInfo | undefined;
}

/** What the kernel has now for the snapshot `name` over the origin `originDmName`. */
export function inspectStack(dm: DeviceMapperApi, name: string, originDmName: string): StackState {
  const n = stackNames(name);
  const origin = dm.find(originDmName);
  const real = dm.find(n.real);
  const cow = dm.find(n.cow);
  const snap = dm.find(n.snap);
  const originTable = origin?.activeTable ? dm.table(originDmName) : [];
  let originKind: OriginKind = 'plain';
  const only = originTable.length === 1 ? originTable[0] : undefined;
  if (originTable.some((t) => t instanceof SnapshotOriginTarget || t instanceof SnapshotMergeTarget || t instanceof SnapshotTarget)) {
    originKind = 'foreign';
    if (only instanceof SnapshotOriginTarget && real && sameDevice(only.origin, real.dev)) originKind = 'origin';
    if (only instanceof SnapshotMergeTarget && real && cow && sameDevice(only.origin, real.dev) && sameDevice(only.cow, cow.dev)) originKind = 'merge';
  }
  return { origin, originTable, originKind, real, cow, snap };
}
