/**
 * The map of a file that grew: its old segments must still be where they
 * were, and only the new part of the file gives new segments. Extents are
 * coalesced across the old end, so the new part is cut out by file offset
 * (then aligned to the chunk on the device as any map is).
 */
import type { Bytes, ChunkSize } from '../units/units.js';
import type { AlignedMap, StoreSegment } from './align.js';
import { alignToChunks } from './align.js';
import { ExtentColumns } from './extent.js';

/** The extents' part at file offsets [from, to), in file order. */
export function clipExtents(extents: ExtentColumns, from: Bytes, to: Bytes): ExtentColumns {
  const out = new ExtentColumns(Math.max(1, extents.count));
  for (let i = 0; i < extents.count; i++) {
    const lo = Math.max(extents.logical[i]!, from);
    const hi = Math.min(extents.logical[i]! + extents.length[i]!, to);
    if (hi <= lo) continue;
    out.push(lo, extents.physical[i]! + (lo - extents.logical[i]!), hi - lo, extents.flags[i]!);
  }
  return out;
}

/** The chunk-aligned map of the file's part past `oldSize`, its store offsets counted from `storeStart`. */
export function mapOfNewPart(extents: ExtentColumns, oldSize: Bytes, newSize: Bytes, chunk: ChunkSize, storeStart: Bytes): AlignedMap & { readonly shifted: StoreSegment[] } {
  const aligned = alignToChunks(clipExtents(extents, oldSize, newSize), chunk);
  return Object.assign(aligned, { shifted: aligned.segments.map((s) => ({ ...s, storeOffset: (s.storeOffset + storeStart) as Bytes })) });
}

/** The first old segment that the file's extents no longer put at the same device bytes, or undefined when all are where they were. */
export function movedSegment(extents: ExtentColumns, segments: readonly StoreSegment[]): StoreSegment | undefined {
  return movedSegments(extents, segments, 1)[0];
}

/**
 * Up to `limit` segments (given in file order, as a map's are) that the
 * file's extents no longer put at the same device bytes. A map that grew may
 * leave blocks of the file out (unaligned edges, blocks held back), so a
 * segment is checked against the extents, not against a fresh map.
 */
export function movedSegments(extents: ExtentColumns, segments: readonly StoreSegment[], limit: number): StoreSegment[] {
  const moved: StoreSegment[] = [];
  let i = 0;
  for (const s of segments) {
    if (moved.length >= limit) break;
    // Segments and extents are both in file order; an extent can hold several segments.
    while (i < extents.count && extents.logical[i]! + extents.length[i]! <= s.fileOffset) i++;
    if (i === extents.count) {
      moved.push(s);
      continue;
    }
    const start = extents.logical[i]!;
    const end = start + extents.length[i]!;
    if (s.fileOffset < start || s.fileOffset + s.length > end || extents.physical[i]! + (s.fileOffset - start) !== s.physical) moved.push(s);
  }
  return moved;
}
