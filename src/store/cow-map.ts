/**
 * Where each piece of the store lives for the kernel: a `linear` table for
 * the COW device. The store's map is in bytes on the filesystem's device D;
 * D itself cannot be used by a second table while it is mounted (EBUSY), so
 * the table is built over what lies beneath D (DESIGN.md "Exclusive claims").
 */
import { SnapstoreError } from '../errors.js';
import type { StoreSegment } from '../fiemap/align.js';
import type { DeviceNumber } from '../linux/device-number.js';
import { formatDeviceNumber, sameDevice } from '../linux/device-number.js';
import type { Sectors } from '../units/units.js';
import { bytesToSectors } from '../units/units.js';
import { lastStartingAtOrBefore } from '../util/bisect.js';

/** One segment of the COW device's table, in 512-byte sectors. */
export interface CowPiece {
  readonly start: Sectors;
  readonly length: Sectors;
  readonly device: DeviceNumber;
  readonly offset: Sectors;
}

/** A linear target of D's own table, with where it starts in D. */
export interface LowerSegment {
  readonly start: Sectors;
  readonly length: Sectors;
  readonly device: DeviceNumber;
  readonly offset: Sectors;
}

/** Joins neighbours that continue each other on the same device. */
export function coalescePieces(pieces: readonly CowPiece[]): CowPiece[] {
  const out: CowPiece[] = [];
  for (const p of pieces) {
    const prev = out[out.length - 1];
    if (prev && sameDevice(prev.device, p.device) && prev.offset + prev.length === p.offset && prev.start + prev.length === p.start) {
      out[out.length - 1] = { ...prev, length: (prev.length + p.length) as Sectors };
    } else out.push(p);
  }
  return out;
}

/**
 * Translates the store's segments on D through D's all-linear table onto the
 * devices below, splitting at D's segment boundaries, then coalescing.
 */
export function translateThroughLinear(segments: readonly StoreSegment[], lower: readonly LowerSegment[], dName: string): CowPiece[] {
  const pieces: CowPiece[] = [];
  for (const s of segments) {
    let pos = bytesToSectors(s.physical) as number;
    let store = bytesToSectors(s.storeOffset) as number;
    let left = bytesToSectors(s.length) as number;
    for (let i = lastStartingAtOrBefore(lower, (l) => l.start, pos); left > 0; i++) {
      const l = lower[i];
      if (!l || pos < l.start || pos >= l.start + l.length) {
        throw new SnapstoreError('MAP_OUTSIDE_DEVICE', `store sector ${store} lies at sector ${pos} of ${dName}, outside its table`, {
          hint: 'the store map is stale; run `snapstore store verify`',
        });
      }
      const n = Math.min(left, l.start + l.length - pos);
      pieces.push({ start: store as Sectors, length: n as Sectors, device: l.device, offset: (l.offset + (pos - l.start)) as Sectors });
      pos += n;
      store += n;
      left -= n;
    }
  }
  return coalescePieces(pieces);
}

/** The store's segments as they lie in the file itself: for a loop device over it. */
export function piecesOverFile(segments: readonly StoreSegment[], loop: DeviceNumber): CowPiece[] {
  return coalescePieces(
    segments.map((s) => ({
      start: bytesToSectors(s.storeOffset),
      length: bytesToSectors(s.length),
      device: loop,
      offset: bytesToSectors(s.fileOffset),
    })),
  );
}

export function describePiece(p: CowPiece): string {
  return `${p.start} ${p.length} linear ${formatDeviceNumber(p.device)} ${p.offset}`;
}
