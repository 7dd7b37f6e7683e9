import type { Bytes, ChunkSize } from '../units/units.js';
import type { Extent } from './extent.js';

/**
 * One segment of the store: where it sits in the store (the COW device), in
 * the file, and on the filesystem's device. Lengths are whole chunks and
 * device offsets chunk-aligned, so no origin chunk is half store, half not
 * (DESIGN.md "Merge hazard").
 */
export interface StoreSegment {
  readonly storeOffset: Bytes;
  readonly fileOffset: Bytes;
  readonly physical: Bytes;
  readonly length: Bytes;
}

export interface AlignedMap {
  readonly segments: StoreSegment[];
  /** bytes of the file left out of the map: unaligned heads and tails */
  readonly droppedBytes: Bytes;
  /** the store's usable size: the sum of the segments */
  readonly usableBytes: Bytes;
}

/** Keeps the chunk-aligned middle of each extent on the device; drops the edges. */
export function alignToChunks(extents: readonly Extent[], chunk: ChunkSize): AlignedMap {
  const c = chunk.bytes;
  const segments: StoreSegment[] = [];
  let store = 0;
  let dropped = 0;
  for (const e of extents) {
    const headRem = e.physical % c;
    const head = headRem === 0 ? 0 : c - headRem;
    const usable = e.length > head ? e.length - head - ((e.length - head) % c) : 0;
    dropped += e.length - usable;
    if (usable === 0) continue;
    segments.push({
      storeOffset: store as Bytes,
      fileOffset: (e.logical + head) as Bytes,
      physical: (e.physical + head) as Bytes,
      length: usable as Bytes,
    });
    store += usable;
  }
  if (!Number.isSafeInteger(store)) throw new RangeError('store size overflows');
  return { segments, droppedBytes: dropped as Bytes, usableBytes: store as Bytes };
}
