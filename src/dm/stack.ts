/**
 * Walking down stacks of dm devices. A filesystem's extents are offsets on
 * its device D; when D is a dm device whose table passes its sectors
 * straight through (linear segments; snapshot-origin, which reads and writes
 * its origin at the same offsets), those offsets can be followed onto the
 * devices below it: to map a store beneath a mounted filesystem (a table
 * over D itself is refused while D is mounted), or to find where two devices
 * share blocks.
 */
import { SnapstoreError } from '../errors.js';
import type { DeviceNumber } from '../linux/device-number.js';
import { formatDeviceNumber, sameDevice } from '../linux/device-number.js';
import type { Mapping } from '../units/range.js';
import type { Sectors } from '../units/units.js';
import { lastStartingAtOrBefore } from '../util/bisect.js';
import type { DeviceMapperApi } from './api.js';
import { LinearTarget, SnapshotOriginTarget, type Target } from './targets.js';

/** `length` sectors at `start` of an upper space lie at `offset` of `device`. */
export interface DeviceMapping extends Mapping<Sectors> {
  readonly device: DeviceNumber;
}

/**
 * How a table passes its sectors down: one mapping per target, or the first
 * target that does not pass them through (crypt, striped, thin...).
 */
export function passthrough(table: readonly Target[]): { segments: DeviceMapping[] } | { blocker: Target } {
  const segments: DeviceMapping[] = [];
  let start = 0;
  for (const t of table) {
    if (t instanceof LinearTarget) segments.push({ start: start as Sectors, length: t.length, device: t.device, offset: t.offset });
    else if (t instanceof SnapshotOriginTarget) segments.push({ start: start as Sectors, length: t.length, device: t.origin, offset: start as Sectors });
    else return { blocker: t };
    start += t.length;
  }
  return { segments };
}

/** Joins neighbours that continue each other on the same device. */
export function coalesceMappings(pieces: readonly DeviceMapping[]): DeviceMapping[] {
  const out: DeviceMapping[] = [];
  for (const p of pieces) {
    const prev = out[out.length - 1];
    if (prev && sameDevice(prev.device, p.device) && prev.offset + prev.length === p.offset && prev.start + prev.length === p.start) {
      out[out.length - 1] = { ...prev, length: (prev.length + p.length) as Sectors };
    } else out.push(p);
  }
  return out;
}

/**
 * Translates pieces on a device (their `offset`s are on it) through that
 * device's table (`lower`, sorted by start) onto the devices below it,
 * splitting at the table's segment boundaries. `what` names the device for
 * the error when a piece lies outside its table.
 */
export function translate(pieces: readonly Mapping<Sectors>[], lower: readonly DeviceMapping[], what: string): DeviceMapping[] {
  const out: DeviceMapping[] = [];
  for (const p of pieces) {
    let pos: number = p.offset;
    let at: number = p.start;
    let left: number = p.length;
    for (let i = lastStartingAtOrBefore(lower, (l) => l.start, pos); left > 0; i++) {
      const l = lower[i];
      if (!l || pos < l.start || pos >= l.start + l.length) {
        throw new SnapstoreError('MAP_OUTSIDE_DEVICE', `sector ${at} of the map lies at sector ${pos} of ${what}, outside its table`, {
          hint: 'the map is stale or belongs to another device; run `snapstore store verify`',
        });
      }
      const n = Math.min(left, l.start + l.length - pos);
      out.push({ start: at as Sectors, length: n as Sectors, device: l.device, offset: (l.offset + (pos - l.start)) as Sectors });
      pos += n;
      at += n;
      left -= n;
    }
  }
  return out;
}

/**
 * Follows pieces down through every dm device whose table passes them
 * through, until they reach devices that are not dm (or whose tables do
 * not). Without a dm client (no device-mapper here) nothing is followed.
 */
export function toBottom(dm: DeviceMapperApi | undefined, pieces: readonly DeviceMapping[]): DeviceMapping[] {
  const out: DeviceMapping[] = [];
  const tables = new Map<string, DeviceMapping[] | undefined>();
  const below = (dev: DeviceNumber): DeviceMapping[] | undefined => {
    const key = formatDeviceNumber(dev);
    if (!tables.has(key)) {
      const name = dm?.nameOf(dev);
      const p = name === undefined ? undefined : passthrough(dm!.table(name));
      tables.set(key, p && 'segments' in p ? p.segments : undefined);
    }
    return tables.get(key);
  };
  const work = [...pieces];
  while (work.length) {
    const p = work.pop()!;
    const lower = below(p.device);
    if (!lower) out.push(p);
    else work.push(...translate([p], lower, formatDeviceNumber(p.device)));
  }
  return out.sort((a, b) => a.start - b.start);
}

/**
 * Where two sets of pieces lie on the same blocks at the bottom of their
 * stacks: the ranges of `a`'s upper space (its `start`s) that share blocks
 * with any piece of `b`.
 */
export function sharedBlocks(dm: DeviceMapperApi | undefined, a: readonly DeviceMapping[], b: readonly DeviceMapping[]): Mapping<Sectors>[] {
  const bottomA = toBottom(dm, a);
  const bottomB = toBottom(dm, b);
  const out: Mapping<Sectors>[] = [];
  for (const x of bottomA) {
    for (const y of bottomB) {
      if (!sameDevice(x.device, y.device)) continue;
      const from = Math.max(x.offset, y.offset);
      const to = Math.min(x.offset + x.length, y.offset + y.length);
      if (from < to) out.push({ start: (x.start + (from - x.offset)) as Sectors, length: (to - from) as Sectors, offset: from as Sectors });
    }
  }
  return out.sort((p, q) => p.start - q.start);
}
