/**
 * Where two things share blocks. A store's extents are byte ranges of its
 * filesystem's device; a merge writes byte ranges of an origin device. They
 * can be the same disk under different names (a dm passthrough, D-real, a
 * loop device over an image): both are followed down their dm stacks
 * (dm/stack.ts) and through loop devices to what is at the bottom, and
 * compared there (docs/design.md, merge hazard).
 */
import * as fs from 'node:fs';
import type { DeviceMapperApi } from '../dm/api.js';
import { sharedBlocks, toBottom, type DeviceMapping } from '../dm/stack.js';
import type { DeviceNumber } from '../linux/device-number.js';
import { formatDeviceNumber, fromDevT } from '../linux/device-number.js';
import { loopBackingFile } from '../linux/loop.js';
import type { Range } from '../units/range.js';
import type { Bytes, Sectors } from '../units/units.js';
import { bytesToSectors, sectorsToBytes } from '../units/units.js';

/**
 * The byte ranges of `origin` (in its own offsets) that lie on the same
 * blocks, at the bottom of both stacks, as `targets` (byte ranges of `targetDev`).
 */
export function originRangesOver(
  dm: DeviceMapperApi | undefined,
  origin: { dev: DeviceNumber; size: Bytes },
  targetDev: DeviceNumber,
  targets: readonly Range<Bytes>[],
): Range<Bytes>[] {
  const whole: DeviceMapping = { start: 0 as Sectors, length: Math.floor(origin.size / 512) as Sectors, device: origin.dev, offset: 0 as Sectors };
  const pieces = targets.map((t): DeviceMapping => ({ start: bytesToSectors(t.offset), length: bytesToSectors(t.length), device: targetDev, offset: bytesToSectors(t.offset) }));
  return sharedBlocks(dm, [whole], pieces).map((r) => ({ offset: sectorsToBytes(r.start), length: sectorsToBytes(r.length) }));
}

/** A file's identity: where its inode is. */
const fileKey = (st: fs.Stats): string => `inode ${st.ino} of device ${formatDeviceNumber(fromDevT(st.dev))}`;

/** What a path stands for at the bottom: device pieces, and the files behind loop devices among them. */
function bottomOf(dm: DeviceMapperApi | undefined, st: fs.Stats): { pieces: DeviceMapping[]; files: Set<string> } {
  if (!st.isBlockDevice()) return { pieces: [], files: new Set([fileKey(st)]) };
  const dev = fromDevT(st.rdev);
  let sectors = 0;
  try {
    sectors = Number(fs.readFileSync(`/sys/dev/block/${formatDeviceNumber(dev)}/size`, 'utf8').trim());
  } catch {
    // no size known: compare the device as a whole
  }
  const pieces = toBottom(dm, [{ start: 0 as Sectors, length: Math.max(sectors, 1) as Sectors, device: dev, offset: 0 as Sectors }]);
  const files = new Set<string>();
  for (const p of pieces) {
    const backing = loopBackingOfNumber(p.device);
    if (backing === undefined) continue;
    try {
      files.add(fileKey(fs.statSync(backing)));
    } catch {
      // the file behind the loop device was deleted: nothing else can be it
    }
  }
  return { pieces, files };
}

function loopBackingOfNumber(dev: DeviceNumber): string | undefined {
  try {
    const name = fs.realpathSync(`/sys/dev/block/${formatDeviceNumber(dev)}`).split('/').pop()!;
    return name.startsWith('loop') ? loopBackingFile(`/dev/${name}`) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why `a` and `b` are the same blocks however they are named (the same
 * file through a symlink or a hard link, a loop device over it, a dm device
 * over the same blocks), or undefined when they are not.
 */
export function sameBlocks(dm: DeviceMapperApi | undefined, a: string, b: string): string | undefined {
  const sa = fs.statSync(a);
  const sb = fs.statSync(b);
  if (!sa.isBlockDevice() && !sb.isBlockDevice()) return sa.dev === sb.dev && sa.ino === sb.ino ? `${a} and ${b} are the same file` : undefined;
  const x = bottomOf(dm, sa);
  const y = bottomOf(dm, sb);
  for (const f of x.files) if (y.files.has(f)) return `${a} and ${b} are the same file (${f}), one through a loop device`;
  const shared = sharedBlocks(dm, x.pieces, y.pieces);
  if (shared.length) return `${a} and ${b} share blocks (followed down their device-mapper stacks)`;
  return undefined;
}
