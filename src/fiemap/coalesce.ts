import type { Bytes } from '../units/units.js';
import type { Extent, RawExtent } from './extent.js';

/**
 * Joins neighbours that are contiguous both in the file and on the device,
 * and clips the map at the file's size (the last block may run past it).
 * Flags are dropped: UNWRITTEN and written parts of one run are the same to
 * a raw mapping.
 */
export function coalesce(extents: readonly RawExtent[], fileSize: Bytes): Extent[] {
  const out: { logical: Bytes; physical: Bytes; length: Bytes }[] = [];
  for (const e of extents) {
    if (e.logical >= fileSize) break;
    const length = Math.min(e.length, fileSize - e.logical) as Bytes;
    const prev = out[out.length - 1];
    if (prev && prev.logical + prev.length === e.logical && prev.physical + prev.length === e.physical) {
      prev.length = (prev.length + length) as Bytes;
    } else {
      out.push({ logical: e.logical, physical: e.physical, length });
    }
  }
  return out;
}
