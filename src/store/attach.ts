/**
 * `store attach` / `store detach`: the store as the block device
 * /dev/mapper/snapstore-NAME-cow, after checking its map still holds.
 */
import * as fs from 'node:fs';
import type { DeviceMapperApi } from '../dm/api.js';
import { DeviceMapper } from '../dm/client.js';
import { nodePath } from '../dm/nodes.js';
import { deviceMapperIfPresent } from '../dm/presence.js';
import { coalesceMappings, passthrough, translate, type DeviceMapping } from '../dm/stack.js';
import { LinearTarget } from '../dm/targets.js';
import type { Target } from '../dm/targets.js';
import { SnapstoreError } from '../errors.js';
import type { StoreSegment } from '../fiemap/align.js';
import type { BlockDeviceInfo } from '../linux/blockdev.js';
import { blockDeviceInfo, deviceNumberOfName } from '../linux/blockdev.js';
import type { DeviceNumber } from '../linux/device-number.js';
import { formatDeviceNumber, fromDevT } from '../linux/device-number.js';
import { openOrThrow, setImmutable } from '../linux/fs.js';
import { attachLoopAt, detachLoop, freeLoopDevice, loopBackingFile, loopsOverFile } from '../linux/loop.js';
import { mountsOf } from '../linux/mountinfo.js';
import { readIntent, removeIntent, writeIntent } from '../state/intent.js';
import type { StateLock } from '../state/lock.js';
import { withStateLock } from '../state/lock.js';
import { dmName, dmUuid } from '../state/names.js';
import { StateDir } from '../state/state-dir.js';
import type { Bytes, Sectors } from '../units/units.js';
import { bytesToSectors } from '../units/units.js';
import { withUndo } from '../util/undo.js';
import type { StoreManifest } from './manifest.js';
import { readManifest } from './manifest.js';
import { verifiedManifest } from './verify.js';

export type AttachPath = 'linear-translation' | 'loop';

export interface AttachResult {
  readonly name: string;
  readonly dmName: string;
  readonly device: string;
  readonly via: AttachPath;
  readonly loopDevice?: string;
  /** what the filesystem lives on, and why that path was taken */
  readonly notes: string[];
  readonly table: DeviceMapping[];
  readonly size: Bytes;
}

export interface AttachOptions {
  readonly stateDir: string;
  readonly name: string;
  /** fail with the EBUSY explanation instead of falling back to a loop device */
  readonly noFallback?: boolean;
  /** device-mapper (default: opened here) */
  readonly dm?: DeviceMapperApi;
  readonly log?: (line: string) => void;
}

/** The record of the loop device an attach made (`stores/NAME.loop`): detach releases only that one. */
const LOOP_OP = 'loop';
const checkLoop = (d: unknown): { device: string } | undefined =>
  typeof d === 'object' && d !== null && typeof (d as { device?: unknown }).device === 'string' ? { device: (d as { device: string }).device } : undefined;

function loopRecord(stateDir: StateDir, name: string): string | undefined {
  const folder = stateDir.folder('stores');
  return folder === undefined ? undefined : readIntent(folder, name, LOOP_OP, checkLoop)?.data.device;
}

const toTable = (pieces: readonly DeviceMapping[]): Target[] => pieces.map((p) => new LinearTarget(p.length, p.device, p.offset));

/** The store's segments as mappings from the COW device onto the filesystem's device (`offset` on it). */
export function storeMappings(segments: readonly StoreSegment[], device: DeviceNumber, at: 'physical' | 'fileOffset' = 'physical'): DeviceMapping[] {
  return segments.map((s) => ({ start: bytesToSectors(s.storeOffset), length: bytesToSectors(s.length), device, offset: bytesToSectors(s[at]) as Sectors }));
}

/**
 * The COW table of a store whose filesystem is on the dm device D: its
 * extents translated through D's table (all linear, or snapshot-origin) onto
 * the devices below. A table over D itself would be refused while D is mounted.
 */
export function cowTableBeneath(dm: DeviceMapperApi, m: StoreManifest, d: BlockDeviceInfo, dName: string): DeviceMapping[] {
  const below = passthrough(dm.table(dName));
  if ('blocker' in below) {
    throw new SnapstoreError(
      'STACK_UNSUPPORTED',
      `${m.file} is on dm device ${dName} (${d.node}), whose table has a ${below.blocker.type} target: the data below it is not the data the filesystem sees, so the store cannot be mapped beneath it`,
      { hint: 'put the store on a filesystem over a partition or a linear dm device (LVM)' },
    );
  }
  return coalesceMappings(translate(storeMappings(m.segments, d.dev), below.segments, dName));
}

function ebusyExplanation(file: string, d: BlockDeviceInfo): SnapstoreError {
  const mount = mountsOf(d.dev)[0];
  const where = mount ? `mounted at ${mount.mountPoint}` : 'in use';
  return new SnapstoreError(
    'DEVICE_BUSY',
    `${file} is on ${d.node}, which is ${where} directly (not through device-mapper): the kernel refuses a dm table over a device a mounted filesystem holds (EBUSY), so the store cannot be mapped raw`,
    { hint: 'drop --no-fallback to use a loop device over the store file, or put the filesystem on a linear dm device (LVM, or a dm passthrough) so the store can be mapped beneath it' },
  );
}

export async function attachStore(options: AttachOptions): Promise<AttachResult> {
  const log = options.log ?? (() => {});
  const stateDir = StateDir.need(options.stateDir);
  return withStateLock(stateDir, async (lock) => {
    const recorded = loopRecord(stateDir, options.name);
    const loops = loopsOverFile(readManifest(stateDir, options.name).file);
    if (recorded !== undefined || loops.length) {
      throw new SnapstoreError(
        'ATTACH_LEFTOVER',
        recorded !== undefined
          ? `store "${options.name}" has a loop device recorded (${recorded}): an earlier attach is still active or did not finish`
          : `store "${options.name}" has a loop device over its file that snapstore did not make (${loops.join(', ')})`,
        { hint: recorded !== undefined ? `run \`snapstore store detach ${options.name}\` to clean it up, then attach again` : `release it (losetup -d ${loops[0]}) if it is yours and unused, then attach again` },
      );
    }
    const m = await verifiedManifest({ stateDir: options.stateDir, name: options.name }, ', so it was not attached');
    const name = dmName(m.name, 'cow');
    const d = blockDeviceInfo(fromDevT(fs.statSync(m.file, { bigint: true }).dev));
    const dm = options.dm ?? DeviceMapper.open();
    try {
      if (dm.find(name)) {
        throw new SnapstoreError('ALREADY_ATTACHED', `store "${m.name}" is already attached as ${nodePath(name)}`, {
          hint: '`snapstore store detach` it first if you want to attach it again',
        });
      }
      const dName = dm.nameOf(d.dev);
      if (dName !== undefined) {
        const pieces = cowTableBeneath(dm, m, d, dName);
        log(`${m.file} is on ${dName}, a dm device: mapping the store onto the ${new Set(pieces.map((p) => formatDeviceNumber(p.device))).size} device(s) below it`);
        await dm.createDevice(name, dmUuid(m.name, 'cow'), toTable(pieces));
        return result(m, name, 'linear-translation', pieces, [`filesystem on dm device ${dName}: store translated through its table`]);
      }
      if (options.noFallback) throw ebusyExplanation(m.file, d);
      const notes = [
        `${m.file} is on ${d.node}, not on a dm device: a table over it would be refused (EBUSY) while it is mounted`,
        'falling back to a loop device over the store file (direct I/O): the filesystem routes the I/O, so placement no longer matters',
        'the file cannot stay immutable while looped: its deletion protection is off until detach',
      ];
      notes.forEach((n) => log(n));
      return await attachThroughLoop(lock, dm, m, name, notes);
    } finally {
      if (!options.dm) dm.close();
    }
  });
}

async function attachThroughLoop(lock: StateLock, dm: DeviceMapperApi, m: StoreManifest, name: string, notes: string[]): Promise<AttachResult> {
  const fd = openOrThrow(m.file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    return await withUndo(async (undo) => {
      const stores = lock.dir.ensureFolder('stores');
      const loop = await freeLoopDevice();
      // Recorded before it is made: detach releases exactly this one, even after a crash.
      writeIntent(lock, stores, m.name, LOOP_OP, { device: loop });
      undo.push(`the record of ${loop}`, () => removeIntent(lock, stores, m.name, LOOP_OP));
      setImmutable(fd, m.file, false);
      undo.push(`the immutable flag of ${m.file}`, () => void setImmutable(fd, m.file, true));
      await attachLoopAt(loop, m.file);
      undo.push(`loop device ${loop}`, () => detachLoop(loop));
      const pieces = storeMappings(m.segments, deviceNumberOfName(loop.replace(/^\/dev\//, '')), 'fileOffset');
      await dm.createDevice(name, dmUuid(m.name, 'cow'), toTable(coalesceMappings(pieces)));
      return { ...result(m, name, 'loop', coalesceMappings(pieces), notes), loopDevice: loop };
    });
  } finally {
    fs.closeSync(fd);
  }
}

function result(m: StoreManifest, name: string, via: AttachPath, table: DeviceMapping[], notes: string[]): AttachResult {
  return { name: m.name, dmName: name, device: nodePath(name), via, notes, table, size: m.usableBytes };
}

export interface DetachOptions {
  readonly stateDir: string;
  readonly name: string;
  readonly dm?: DeviceMapperApi;
}

export interface DetachResult {
  readonly name: string;
  /** false: nothing was attached, nothing changed */
  readonly detached: boolean;
  readonly loopsDetached: string[];
  /** loop devices over the store file that snapstore did not make: left alone */
  readonly othersLoops: string[];
}

export async function detachStore(options: DetachOptions): Promise<DetachResult> {
  const stateDir = StateDir.need(options.stateDir);
  return withStateLock(stateDir, async (lock) => {
    const m = readManifest(stateDir, options.name);
    const name = dmName(m.name, 'cow');
    let detached = false;
    // Without device-mapper nothing of ours can be attached but a loop device.
    const dm = options.dm ?? deviceMapperIfPresent();
    try {
      if (dm?.find(name)) {
        await dm.remove(name);
        detached = true;
      }
    } finally {
      if (!options.dm) dm?.close();
    }
    const loopsDetached: string[] = [];
    const recorded = loopRecord(stateDir, m.name);
    if (recorded !== undefined) {
      // Ours (an attach that crashed may not have made it): released if it is over our file.
      if (loopBackingFile(recorded) === m.file) {
        await detachLoop(recorded);
        loopsDetached.push(recorded);
      }
      removeIntent(lock, stateDir.ensureFolder('stores'), m.name, LOOP_OP);
    }
    const fd = openOrThrow(m.file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      setImmutable(fd, m.file, true);
    } finally {
      fs.closeSync(fd);
    }
    return { name: m.name, detached: detached || loopsDetached.length > 0 || recorded !== undefined, loopsDetached, othersLoops: loopsOverFile(m.file) };
  });
}
