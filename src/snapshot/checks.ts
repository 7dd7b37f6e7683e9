/**
 * Refusals before a lifecycle command changes anything: an origin that
 * cannot carry a snapshot this way, a state directory on the filesystem
 * being snapshotted, a store whose header (read raw) does not agree with
 * its manifest. Each names the thing, the reason and the way out.
 */
import * as path from 'node:path';
import type { DeviceMapperApi } from '../dm/api.js';
import { sharedBlocks } from '../dm/stack.js';
import { LinearTarget, OtherTarget, SnapshotMergeTarget, SnapshotOriginTarget, SnapshotTarget, type Target } from '../dm/targets.js';
import { SnapstoreError } from '../errors.js';
import type { DeviceNumber } from '../linux/device-number.js';
import { formatDeviceNumber } from '../linux/device-number.js';
import { parseDmUuid } from '../state/names.js';
import type { StoreManifest } from '../store/manifest.js';
import type { Sectors } from '../units/units.js';
import { existingAncestor } from '../util/paths.js';
import type { Platform } from './platform.js';
import type { SnapshotManifest } from './manifest.js';
import { tableSectors } from './stack.js';
import { agentStateWarning } from './update-agents.js';

export interface CheckpointOrigin {
  readonly dev: DeviceNumber;
  readonly dmName: string;
  readonly table: Target[];
  /** the snapshot goes beneath this crypt layer (the path given), onto the enrolled passthrough under it */
  readonly beneath?: { readonly crypt: string; readonly offset: number };
}

/**
 * A crypt device opened over an enrolled partition's passthrough: the crypt
 * layer's name and data offset, and the passthrough beneath it. A checkpoint
 * of its filesystem goes there, beneath the crypt layer: it needs no key.
 */
function cryptOverEnrolled(platform: Platform, table: readonly Target[]): { below: string; offset: number } | undefined {
  const only = table.length === 1 ? table[0] : undefined;
  if (!(only instanceof OtherTarget && only.type === 'crypt')) return undefined;
  // crypt <cipher> <key> <iv_offset> <device> <offset> [options] (Documentation/admin-guide/device-mapper/dm-crypt.rst)
  const [, , , device, offset] = only.params.split(/\s+/);
  if (device === undefined || offset === undefined || !/^\d+:\d+$/.test(device) || !/^\d+$/.test(offset)) return undefined;
  const [major, minor] = device.split(':').map(Number);
  const below = platform.dm.nameOf({ major: major!, minor: minor! } as DeviceNumber);
  if (below === undefined || parseDmUuid(platform.dm.info(below).uuid)?.role !== 'origin') return undefined;
  return { below, offset: Number(offset) };
}

/** The origin given as a path: a dm device whose table can be loaded again into another device. */
export function checkOrigin(platform: Platform, originPath: string): CheckpointOrigin {
  const dev = platform.blockDevice(originPath);
  const dmName = platform.dm.nameOf(dev);
  if (dmName === undefined) {
    throw new SnapstoreError(
      'ORIGIN_UNSUPPORTED',
      `${originPath} (${formatDeviceNumber(dev)}) is a plain disk or partition, not a device-mapper device: a mounted filesystem holds it exclusively, so nothing can be put beneath it to keep the old contents`,
      {
        hint: `enroll it (\`snapstore enroll ${originPath} --name NAME\`, then mount it as /dev/mapper/snapstore-NAME: from the next boot at the latest), or snapshot it in update mode while it is not mounted`,
      },
    );
  }
  const beneath = cryptOverEnrolled(platform, platform.dm.table(dmName));
  if (beneath !== undefined) {
    const below = platform.dm.info(beneath.below);
    return { ...checkDmOrigin(platform, beneath.below, below.dev, `/dev/mapper/${beneath.below}`), beneath: { crypt: dmName, offset: beneath.offset } };
  }
  return checkDmOrigin(platform, dmName, dev, originPath);
}

function checkDmOrigin(platform: Platform, dmName: string, dev: DeviceNumber, originPath: string): CheckpointOrigin {
  const info = platform.dm.info(dmName);
  // An enrolled partition's passthrough is ours, and made to be an origin.
  if (parseDmUuid(info.uuid) && parseDmUuid(info.uuid)?.role !== 'origin') {
    throw new SnapstoreError('ORIGIN_UNSUPPORTED', `${originPath} is ${dmName}, a device snapstore made for a snapshot (${info.uuid})`, { hint: 'give the origin the filesystem is mounted from' });
  }
  if (info.suspended) {
    throw new SnapstoreError('ORIGIN_UNSUPPORTED', `${dmName} is suspended: another tool is in the middle of changing it`, { hint: 'wait for it, or `dmsetup resume` it if you know why it was left suspended' });
  }
  const table = platform.dm.table(dmName);
  for (const t of table) {
    if (t instanceof SnapshotOriginTarget || t instanceof SnapshotTarget || t instanceof SnapshotMergeTarget) {
      throw new SnapstoreError('ORIGIN_UNSUPPORTED', `${dmName} already carries a ${t.type} target: it has a snapshot (LVM's, or another tool's)`, {
        hint: 'finish or remove that snapshot first (`dmsetup table` shows it)',
      });
    }
    if (t instanceof OtherTarget && t.type === 'crypt' && /^\S+\s+:/.test(t.params)) {
      throw new SnapstoreError(
        'ORIGIN_UNSUPPORTED',
        `${dmName} is dm-crypt with its key in the kernel keyring (${t.params.split(/\s+/)[1]?.replace(/:[^:]*$/, ':...')}), as cryptsetup opens LUKS2 by default: its table cannot be loaded into another device ("Required key not available"), so the snapshot cannot go above the crypt layer`,
        {
          hint: 'put the snapshot beneath the crypt layer: enroll the LUKS partition (`snapstore enroll`) and open it from the passthrough (crypttab), or open the device with `cryptsetup open --disable-keyring` so its table carries the key',
        },
      );
    }
  }
  if (table.length === 0) throw new SnapstoreError('ORIGIN_UNSUPPORTED', `${dmName} has no table`, { hint: 'load its table first' });
  return { dev, dmName, table };
}

/** An update's origin: a block device nothing uses (not mounted, not held), dm or plain. */
export interface UpdateOrigin {
  readonly dev: DeviceNumber;
  readonly dmName: string | undefined;
  /** its dm table, or (a plain device) one linear target over all of it: what its blocks are */
  readonly table: Target[];
  readonly sectors: Sectors;
  readonly kernelName: string;
  readonly partUuid: string | undefined;
}

/**
 * The origin of an update: any block device (a partition, a disk, a dm
 * device) that nothing mounts or holds: the update is written into a
 * snapshot of it, and it is never written until commit.
 */
export async function checkUpdateOrigin(platform: Platform, originPath: string): Promise<UpdateOrigin> {
  const dev = platform.blockDevice(originPath);
  const dmName = platform.dm.nameOf(dev);
  const described = await platform.describeDevice(dev);
  const busy = (why: string) =>
    new SnapstoreError('ORIGIN_BUSY', `${originPath} ${why}: update mode writes the update into a snapshot of a device nothing uses, and the origin is not written until commit`, {
      hint: 'unmount it first (a system partition not in use, a data filesystem before it is mounted); to protect a filesystem that stays mounted, use --mode checkpoint',
    });
  const mounted = platform.mountedAt(dev);
  if (mounted !== undefined) throw busy(`is mounted at ${mounted}`);
  let table: Target[];
  if (dmName !== undefined) {
    const info = platform.dm.info(dmName);
    if (parseDmUuid(info.uuid) && parseDmUuid(info.uuid)?.role !== 'origin') throw new SnapstoreError('ORIGIN_UNSUPPORTED', `${originPath} is ${dmName}, a device snapstore made (${info.uuid})`, { hint: 'give the device the update is for' });
    if (info.suspended) throw new SnapstoreError('ORIGIN_UNSUPPORTED', `${dmName} is suspended: another tool is in the middle of changing it`, { hint: 'wait for it, or `dmsetup resume` it if you know why it was left suspended' });
    table = platform.dm.table(dmName);
    if (table.length === 0) throw new SnapstoreError('ORIGIN_UNSUPPORTED', `${dmName} has no table`, { hint: 'load its table first' });
    const snap = table.find((t) => t instanceof SnapshotOriginTarget || t instanceof SnapshotTarget || t instanceof SnapshotMergeTarget);
    if (snap) throw new SnapstoreError('ORIGIN_UNSUPPORTED', `${dmName} already carries a ${snap.type} target: it has a snapshot (LVM's, or another tool's)`, { hint: 'finish or remove that snapshot first (`dmsetup table` shows it)' });
    if (info.openCount > 0) throw busy(`is open (${info.openCount}): mounted, or held by a program or another device`);
  } else {
    table = [new LinearTarget(described.sectors as Sectors, dev, 0 as Sectors)];
  }
  if (described.holders.length) throw busy(`is held by ${described.holders.join(', ')}`);
  return { dev, dmName, table, sectors: tableSectors(table), kernelName: described.kernelName, partUuid: described.partUuid };
}

/** What tells which filesystem a path is on and what is stacked beneath it: the platform, or only the first half where there is no device-mapper. */
export type StackView = Pick<Platform, 'filesystemDevice'> & { readonly dm: DeviceMapperApi | undefined };

/**
 * The state directory must not be on the filesystem being snapshotted: a
 * rollback would roll back our own record of it, and at boot it must be
 * readable before that filesystem is mounted. Without device-mapper
 * (`doctor` on a system that lacks it) nothing is stacked: only the devices
 * are compared.
 */
export function checkStateDirOffOrigin(platform: StackView, stateDir: string, origin: OriginView): void {
  if (onOrigin(platform, stateDir, origin)) {
    throw new SnapstoreError(
      'STATE_ON_ORIGIN',
      `the state directory ${stateDir} is on ${origin.dmName ?? formatDeviceNumber(origin.dev)}, the filesystem being snapshotted: a rollback would roll back snapstore's own record of it, and at boot it must be read before that filesystem is mounted`,
      { hint: 'give --state-dir a folder on another filesystem that is mounted early at boot: the root filesystem (the default /var/lib/snapstore, if / is not the origin) or a small metadata partition' },
    );
  }
}

export type OriginView = { readonly dev: DeviceNumber; readonly dmName: string | undefined; readonly table: readonly Target[] };

/** Whether `p` (or, not made yet, its nearest folder) is on a filesystem whose blocks are the origin's. */
export function onOrigin(platform: StackView, p: string, origin: OriginView): boolean {
  const fsDev = platform.filesystemDevice(existingAncestor(p));
  const whole = (device: DeviceNumber, length: Sectors) => [{ start: 0 as Sectors, length, device, offset: 0 as Sectors }];
  // A dm device is compared over its whole table; any other device is below every stack it is in.
  const { dm } = platform;
  const fsDm = dm?.nameOf(fsDev);
  const fsLength = dm && fsDm !== undefined ? tableSectors(dm.table(fsDm)) : (1 as Sectors);
  return formatDeviceNumber(fsDev) === formatDeviceNumber(origin.dev) || sharedBlocks(dm, whole(fsDev, fsLength), whole(origin.dev, tableSectors(origin.table))).length > 0;
}

/**
 * An update agent's own record on the filesystem a checkpoint rolls back
 * (snapshot/update-agents.ts): allowed, as the agent may record the outcome
 * again after a rollback, but said, with the way out.
 */
export function agentStateWarnings(platform: StackView & Pick<Platform, 'updateAgents'>, origin: OriginView, label: string): Warning[] {
  const on = platform.updateAgents().states.filter((s) => onOrigin(platform, s.path, origin));
  return on.length ? [agentStateWarning(on, label)] : [];
}

/** Something a command did although it is not as it should be: what, why, and the way out. */
export interface Warning {
  readonly message: string;
  readonly hint: string;
}

/**
 * A new store must not be made on a filesystem whose device carries a live
 * snapshot (a checkpoint of it, ours or LVM's): its blocks would be new under
 * that snapshot, and that snapshot's rollback would write old contents over
 * them while this one still uses them (docs/design.md "Extension hazard").
 */
export function checkStoreFsUnsnapshotted(platform: Platform, storePath: string): void {
  const fsDm = platform.dm.nameOf(platform.filesystemDevice(existingAncestor(path.dirname(storePath))));
  if (fsDm === undefined) return;
  const snap = platform.dm.table(fsDm).find((t) => t instanceof SnapshotOriginTarget || t instanceof SnapshotMergeTarget);
  if (snap) {
    throw new SnapstoreError('STACK_UNSUPPORTED', `the store ${storePath} would be on ${fsDm}, which carries a ${snap.type} target (a live snapshot of that filesystem): the new store's blocks would be overwritten if that snapshot is rolled back`, {
      hint: 'put the store on a filesystem with no snapshot in progress, or make this snapshot before the other one (commit or roll back that one first)',
    });
  }
}

/** disk_header (dm-snap-persistent.c): magic 'SnAp', valid, version 1, chunk size in sectors. */
export interface StoreHeader {
  readonly written: boolean;
  readonly valid: boolean;
  readonly chunkSectors: number;
}

const SNAP_MAGIC = 0x70416e53;

/**
 * The store's header, read raw through its map on `dev`, checked against its
 * manifest: after a reboot the map is trusted only once its checksum (the
 * manifest validated) and the header on the disk agree.
 */
export function checkStoreHeader(platform: Platform, at: StoreLocation, store: StoreManifest): StoreHeader {
  const { dev } = at;
  const h = platform.readStore(dev, store, 512, at.shift);
  const magic = h.readUInt32LE(0);
  if (magic === 0) return { written: false, valid: false, chunkSectors: 0 };
  const chunkSectors = h.readUInt32LE(12);
  if (magic !== SNAP_MAGIC || h.readUInt32LE(8) !== 1 || chunkSectors * 512 !== store.chunkSize) {
    throw new SnapstoreError(
      'STORE_HEADER_MISMATCH',
      `the header of store "${store.name}", read through its map on ${formatDeviceNumber(dev)}, is not the store's (magic 0x${magic.toString(16)}, version ${h.readUInt32LE(8)}, chunk ${chunkSectors} sectors; expected 'SnAp', 1, ${store.chunkSize / 512}): the map does not point at the store any more`,
      { hint: 'nothing was changed. Do not merge: the map is stale or the device is not the one recorded. `snapstore commit` drops the snapshot without using the store' },
    );
  }
  return { written: true, valid: h.readUInt32LE(4) !== 0, chunkSectors };
}

/** Where a store's blocks are read raw: a device, and how far past their FIEMAP offsets. */
export interface StoreLocation {
  readonly dev: DeviceNumber;
  readonly shift: Sectors;
}

/**
 * Where snapshot `m`'s store is read raw: on the origin when it lives on the
 * origin's filesystem (or on a crypt layer over it: beneath, past the crypt's
 * data offset), else on its own filesystem's dm device; undefined when that
 * device is not here.
 */
export function storeLocation(dm: DeviceMapperApi, m: SnapshotManifest, store: StoreManifest, originDev: DeviceNumber | undefined): StoreLocation | undefined {
  if (m.mode === 'checkpoint' && store.device.dmName === m.origin.dmName) return originDev && { dev: originDev, shift: 0 as Sectors };
  if (m.beneath !== undefined && store.device.dmName === m.beneath.crypt) return originDev && { dev: originDev, shift: m.beneath.offset as Sectors };
  const dev = store.device.dmName === undefined ? undefined : dm.find(store.device.dmName)?.dev;
  return dev && { dev, shift: 0 as Sectors };
}
