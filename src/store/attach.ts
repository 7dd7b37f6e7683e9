/**
 * `store attach` / `store detach`: the store as the block device
 * /dev/mapper/snapstore-NAME-cow, after checking its map still holds.
 */
import * as fs from 'node:fs';
import { DeviceMapper } from '../dm/client.js';
import { deviceMapperIfPresent } from './dm-presence.js';
import { nodePath } from '../dm/nodes.js';
import { LinearTarget } from '../dm/targets.js';
import type { Target } from '../dm/targets.js';
import { SnapstoreError } from '../errors.js';
import type { BlockDeviceInfo } from '../linux/blockdev.js';
import { blockDeviceInfo, deviceNumberOfName } from '../linux/blockdev.js';
import { formatDeviceNumber, fromDevT } from '../linux/device-number.js';
import { openOrThrow, setImmutable } from '../linux/fs.js';
import { mountsOf } from '../linux/mountinfo.js';
import type { Sectors } from '../units/units.js';
import { add, sectors } from '../units/units.js';
import type { CowPiece, LowerSegment } from './cow-map.js';
import { piecesOverFile, translateThroughLinear } from './cow-map.js';
import { attachLoop, detachLoop, loopsOverFile } from './loop.js';
import type { StoreManifest } from './manifest.js';
import { readManifest } from './manifest.js';
import { withStateLock } from './state-dir.js';
import { verifyStore } from './verify.js';

export const cowDeviceName = (name: string): string => `snapstore-${name}-cow`;
export const cowDeviceUuid = (name: string): string => `SNAPSTORE-${name}-cow`;

export type AttachPath = 'linear-translation' | 'loop';

export interface AttachResult {
  readonly name: string;
  readonly dmName: string;
  readonly device: string;
  readonly via: AttachPath;
  readonly loopDevice?: string;
  /** what the filesystem lives on, and why that path was taken */
  readonly notes: string[];
  readonly table: CowPiece[];
  readonly sizeBytes: number;
}

export interface AttachOptions {
  readonly stateDir: string;
  readonly name: string;
  /** fail with the EBUSY explanation instead of falling back to a loop device */
  readonly noFallback?: boolean;
  readonly log?: (line: string) => void;
}

function toTable(pieces: readonly CowPiece[]): Target[] {
  return pieces.map((p) => new LinearTarget(p.length, p.device, p.offset));
}

/** D's table as linear segments, or a refusal naming the first target that is not linear. */
function lowerSegments(dm: DeviceMapper, d: BlockDeviceInfo, file: string): LowerSegment[] {
  const dmName = d.dm!.name;
  const out: LowerSegment[] = [];
  let start: Sectors = sectors(0);
  for (const t of dm.table(dmName)) {
    if (!(t instanceof LinearTarget)) {
      throw new SnapstoreError(
        'STACK_UNSUPPORTED',
        `${file} is on dm device ${dmName} (${d.node}), whose table has a ${t.type} target: the data below it is not the data the filesystem sees, so the store cannot be mapped beneath it`,
        { hint: 'for now, put the store on a filesystem over a partition or a linear dm device (LVM); the snapshot lifecycle will move such a table to a -real device' },
      );
    }
    out.push({ start, length: t.length, device: t.device, offset: t.offset });
    start = add(start, t.length);
  }
  return out;
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
  return withStateLock(options.stateDir, async () => {
    const leftover = loopsOverFile(readManifest(options.stateDir, options.name).file);
    if (leftover.length) {
      throw new SnapstoreError('ATTACH_LEFTOVER', `store "${options.name}" already has a loop device over its file (${leftover.join(', ')}): an earlier attach is still active or did not finish`, {
        hint: `run \`snapstore store detach ${options.name}\` to clean it up, then attach again`,
      });
    }
    const v = await verifyStore(options.stateDir, options.name);
    if (!v.ok) {
      throw new SnapstoreError('STORE_STALE', `store "${options.name}" does not match its manifest, so it was not attached:\n  ${v.problems.join('\n  ')}`, {
        hint: 'the map is stale: the kernel would write over other data. Delete and recreate the store',
      });
    }
    const m = v.manifest;
    const dmName = cowDeviceName(m.name);
    const d = blockDeviceInfo(fromDevT(fs.statSync(m.file, { bigint: true }).dev));
    const dm = DeviceMapper.open();
    try {
      if (dm.find(dmName)) {
        throw new SnapstoreError('ALREADY_ATTACHED', `store "${m.name}" is already attached as ${nodePath(dmName)}`, {
          hint: '`snapstore store detach` it first if you want to attach it again',
        });
      }
      if (d.dm) {
        const lower = lowerSegments(dm, d, m.file);
        const pieces = translateThroughLinear(m.segments, lower, d.dm.name);
        log(`${m.file} is on ${d.dm.name}, a linear dm device: mapping the store onto the ${new Set(lower.map((l) => formatDeviceNumber(l.device))).size} device(s) below it`);
        await dm.createDevice(dmName, cowDeviceUuid(m.name), toTable(pieces));
        return result(m, dmName, 'linear-translation', pieces, [`filesystem on dm device ${d.dm.name} (all linear): store translated through its table`]);
      }
      if (options.noFallback) throw ebusyExplanation(m.file, d);
      const notes = [
        `${m.file} is on ${d.node}, not on a dm device: a table over it would be refused (EBUSY) while it is mounted`,
        'falling back to a loop device over the store file (direct I/O): the filesystem routes the I/O, so placement no longer matters',
        'the file cannot stay immutable while looped: its deletion protection is off until detach',
      ];
      notes.forEach((n) => log(n));
      return await attachThroughLoop(dm, m, dmName, notes);
    } finally {
      dm.close();
    }
  });
}

async function attachThroughLoop(dm: DeviceMapper, m: StoreManifest, dmName: string, notes: string[]): Promise<AttachResult> {
  const fd = openOrThrow(m.file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  let loop: string | undefined;
  let done = false;
  try {
    setImmutable(fd, m.file, false);
    loop = await attachLoop(m.file);
    const pieces = piecesOverFile(m.segments, deviceNumberOfName(loop.replace(/^\/dev\//, '')));
    await dm.createDevice(dmName, cowDeviceUuid(m.name), toTable(pieces));
    done = true;
    return { ...result(m, dmName, 'loop', pieces, notes), loopDevice: loop };
  } finally {
    if (!done) {
      if (loop) await detachLoop(loop);
      setImmutable(fd, m.file, true);
    }
    fs.closeSync(fd);
  }
}

function result(m: StoreManifest, dmName: string, via: AttachPath, table: CowPiece[], notes: string[]): AttachResult {
  return { name: m.name, dmName, device: nodePath(dmName), via, notes, table, sizeBytes: m.usableBytes };
}

export interface DetachResult {
  readonly name: string;
  /** false: nothing was attached, nothing changed */
  readonly detached: boolean;
  readonly loopsDetached: string[];
}

export async function detachStore(stateDir: string, name: string): Promise<DetachResult> {
  return withStateLock(stateDir, async () => {
    const m = readManifest(stateDir, name);
    const dmName = cowDeviceName(m.name);
    let detached = false;
    // Without device-mapper nothing of ours can be attached but a loop device.
    const dm = deviceMapperIfPresent();
    try {
      if (dm?.find(dmName)) {
        await dm.remove(dmName);
        detached = true;
      }
    } finally {
      dm?.close();
    }
    // Loops over the store file: ours, or left by an attach that crashed.
    const loops = loopsOverFile(m.file);
    for (const loop of loops) await detachLoop(loop);
    const fd = openOrThrow(m.file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      setImmutable(fd, m.file, true);
    } finally {
      fs.closeSync(fd);
    }
    return { name: m.name, detached: detached || loops.length > 0, loopsDetached: loops };
  });
}

