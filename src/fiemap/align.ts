import { SnapstoreError } from '../errors.js';
import type { Bytes, ChunkSize } from '../units/units.js';
import type { ExtentColumns } from './extent.js';

/**
 * One segment of the store: where it sits in the store (the COW device), in
 * the file, and on the filesystem's device. Lengths are whole chunks and
 * device offsets chunk-aligned, so no origin chunk is half store, half not
 * (docs/design.md "Merge hazard").
 */
export interface StoreSegment {
  readonly storeOffset: Bytes;
  readonly fileOffset: Bytes;
  readonly physical: Bytes;
  readonly length: Bytes;
}

export function sameSegment(a: StoreSegment, b: StoreSegment): boolean {
  return a.storeOffset === b.storeOffset && a.fileOffset === b.fileOffset && a.physical === b.physical && a.length === b.length;
}

/** Store segments column by column (see ExtentColumns for why). */
export class SegmentColumns {
  count = 0;
  readonly storeOffset: Float64Array;
  readonly fileOffset: Float64Array;
  readonly physical: Float64Array;
  readonly length: Float64Array;

  constructor(capacity: number) {
    this.storeOffset = new Float64Array(capacity);
    this.fileOffset = new Float64Array(capacity);
    this.physical = new Float64Array(capacity);
    this.length = new Float64Array(capacity);
  }

  static from(segments: readonly StoreSegment[]): SegmentColumns {
    const c = new SegmentColumns(segments.length);
    for (const s of segments) {
      const i = c.count++;
      c.storeOffset[i] = s.storeOffset;
      c.fileOffset[i] = s.fileOffset;
      c.physical[i] = s.physical;
      c.length[i] = s.length;
    }
    return c;
  }

  toSegments(): StoreSegment[] {
    return Array.from({ length: this.count }, (_, i) => ({
      storeOffset: this.storeOffset[i] as Bytes,
      fileOffset: this.fileOffset[i] as Bytes,
      physical: this.physical[i] as Bytes,
      length: this.length[i] as Bytes,
    }));
  }
}

export interface AlignedMap {
  readonly columns: SegmentColumns;
  /** the segments as objects, made on first use */
  readonly segments: StoreSegment[];
  /** bytes of the file left out of the map: unaligned heads and tails */
  readonly droppedBytes: Bytes;
  /** the store's usable size: the sum of the segments */
  readonly usableBytes: Bytes;
}

/** Keeps the chunk-aligned middle of each extent on the device; drops the edges. */
export function alignToChunks(extents: ExtentColumns, chunk: ChunkSize): AlignedMap {
  const c = chunk.bytes;
  const { logical, physical, length } = extents;
  const out = new SegmentColumns(extents.count);
  let store = 0;
  let dropped = 0;
  for (let i = 0; i < extents.count; i++) {
    const len = length[i]!;
    const headRem = physical[i]! % c;
    const head = headRem === 0 ? 0 : c - headRem;
    const usable = len > head ? len - head - ((len - head) % c) : 0;
    dropped += len - usable;
    if (usable === 0) continue;
    const n = out.count++;
    out.storeOffset[n] = store;
    out.fileOffset[n] = logical[i]! + head;
    out.physical[n] = physical[i]! + head;
    out.length[n] = usable;
    store += usable;
  }
  if (!Number.isSafeInteger(store)) throw new SnapstoreError('OVERFLOW', `the store's size (${store} bytes) is beyond 2^53`);
  let segments: StoreSegment[] | undefined;
  return {
    columns: out,
    get segments() {
      return (segments ??= out.toSegments());
    },
    droppedBytes: dropped as Bytes,
    usableBytes: store as Bytes,
  };
}
