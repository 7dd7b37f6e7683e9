/**
 * Where two block devices share blocks. A store's extents are byte ranges of
 * its filesystem's device; a merge writes byte ranges of an origin device.
 * They can be the same disk under different names (a dm passthrough, D-real):
 * both are followed down their linear dm stacks to the devices at the bottom
 * and compared there (DESIGN.md, merge hazard).
 */
import type { OriginRange } from '../cow/table.js';
import type { DeviceMapper } from '../dm/client.js';
import { LinearTarget, SnapshotOriginTarget } from '../dm/targets.js';
import { blockDeviceInfo } from '../linux/blockdev.js';
import type { DeviceNumber } from '../linux/device-number.js';
import { sameDevice } from '../linux/device-number.js';
import type { Bytes } from '../units/units.js';
import { SECTOR_BYTES } from '../units/units.js';

/** `length` bytes at `offset` of `dev`; `at` is where they are in the device we started from. */
export interface Piece {
  readonly dev: DeviceNumber;
  readonly offset: number;
  readonly length: number;
  readonly at: number;
}

/**
 * The pieces below one dm device's table: linear segments map to their device
 * and offset; snapshot-origin passes its data through at the same offsets.
 * Undefined when `dev` is not dm or its table has another kind of target.
 */
function below(dm: DeviceMapper, dev: DeviceNumber): Piece[] | undefined {
  const info = blockDeviceInfo(dev);
  if (!info.dm) return undefined;
  const out: Piece[] = [];
  let start = 0;
  for (const t of dm.table(info.dm.name)) {
    const length = t.length * SECTOR_BYTES;
    if (t instanceof LinearTarget) out.push({ dev: t.device, offset: t.offset * SECTOR_BYTES, length, at: start });
    else if (t instanceof SnapshotOriginTarget) out.push({ dev: t.origin, offset: start, length, at: start });
    else return undefined;
    start += length;
  }
  return out;
}

/** Follows pieces down through linear dm devices until they reach devices that are not. */
export function toBottom(dm: DeviceMapper | undefined, pieces: readonly Piece[]): Piece[] {
  const out: Piece[] = [];
  const tables = new Map<string, Piece[] | undefined>();
  const work = [...pieces];
  while (work.length) {
    const p = work.pop()!;
    const key = `${p.dev.major}:${p.dev.minor}`;
    if (!tables.has(key)) tables.set(key, dm ? below(dm, p.dev) : undefined);
    const segs = tables.get(key);
    if (!segs) {
      out.push(p);
      continue;
    }
    for (const s of segs) {
      const from = Math.max(p.offset, s.at);
      const to = Math.min(p.offset + p.length, s.at + s.length);
      if (from < to) work.push({ dev: s.dev, offset: s.offset + (from - s.at), length: to - from, at: p.at + (from - p.offset) });
    }
  }
  return out;
}

/**
 * The byte ranges of `origin` (in its own offsets) that lie on the same
 * blocks, at the bottom of both stacks, as `targets` (ranges of `targetDev`).
 */
export function originRangesOver(
  dm: DeviceMapper | undefined,
  origin: { dev: DeviceNumber; size: number },
  targetDev: DeviceNumber,
  targets: readonly { offset: number; length: number }[],
): OriginRange[] {
  const bottomTargets = toBottom(dm, targets.map((t) => ({ dev: targetDev, offset: t.offset, length: t.length, at: t.offset })));
  const originPieces = toBottom(dm, [{ dev: origin.dev, offset: 0, length: origin.size, at: 0 }]);
  const out: OriginRange[] = [];
  for (const o of originPieces) {
    for (const t of bottomTargets) {
      if (!sameDevice(o.dev, t.dev)) continue;
      const from = Math.max(o.offset, t.offset);
      const to = Math.min(o.offset + o.length, t.offset + t.length);
      if (from < to) out.push({ offset: (o.at + (from - o.offset)) as Bytes, length: (to - from) as Bytes });
    }
  }
  return out.sort((a, b) => a.offset - b.offset);
}
