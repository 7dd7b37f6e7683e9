/**
 * Which segments the proof writes into. Proving every segment of a store of
 * 100,000 extents costs a write into each (the kernel splits an unwritten
 * extent at every one), about a dozen times what allocating and mapping it
 * cost. The errors a proof is for are systematic: a wrong device (the
 * filesystem is not on the device st_dev names), a wrong offset translation
 * (FIEMAP in other units, relative to a partition, a layer in between that
 * remaps a region): they touch every segment, or every segment in a region
 * of the device. A sample spread over the device's address space (one
 * segment at random from each of many equal slices of the segments sorted by
 * device offset, plus the first and last by store and by device offset)
 * catches them all. It gives up the rare error confined to one or a few
 * segments (a single extent misreported); `--full-proof` proves every one.
 */
import { randomInt } from 'node:crypto';
import type { StoreSegment } from '../fiemap/align.js';

/** Segments the default proof writes into (a store with fewer is proved whole). */
export const PROOF_SAMPLE = 512;

export function proofSample(segments: readonly StoreSegment[], count = PROOF_SAMPLE, pick: (below: number) => number = randomInt): StoreSegment[] {
  const n = segments.length;
  if (n <= count) return [...segments];
  const byDevice = Array.from({ length: n }, (_, i) => i).sort((a, b) => segments[a]!.physical - segments[b]!.physical);
  const chosen = new Set<number>([0, n - 1, byDevice[0]!, byDevice[n - 1]!]);
  const slices = count - chosen.size;
  for (let k = 0; k < slices; k++) {
    const lo = Math.floor((k * n) / slices);
    const hi = Math.floor(((k + 1) * n) / slices);
    // A pick that is already chosen (one of the four ends) moves to the next free one in its slice.
    const first = lo + pick(hi - lo);
    for (let j = 0; j < hi - lo; j++) {
      const i = byDevice[lo + ((first - lo + j) % (hi - lo))]!;
      if (!chosen.has(i)) {
        chosen.add(i);
        break;
      }
    }
  }
  // Slices of one segment that held an end leave a place: filled in device order.
  for (let r = 0; chosen.size < count && r < n; r++) chosen.add(byDevice[r]!);
  return [...chosen].sort((a, b) => a - b).map((i) => segments[i]!);
}
