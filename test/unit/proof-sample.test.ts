import { describe, expect, it } from 'vitest';
import type { StoreSegment } from '../../src/fiemap/align.js';
import { proofSample } from '../../src/store/proof-sample.js';
import type { Bytes } from '../../src/units/units.js';

/** n segments of 4 KiB scattered over the device (a store on a fragmented filesystem). */
function scattered(n: number): StoreSegment[] {
  let x = 12345;
  const next = () => (x = (x * 1103515245 + 12345) % 2 ** 31);
  return Array.from({ length: n }, (_, i) => ({ storeOffset: (i * 4096) as Bytes, fileOffset: (i * 4096) as Bytes, physical: (next() * 4096) as Bytes, length: 4096 as Bytes }));
}

describe('the proof sample', () => {
  it('is every segment of a small store', () => {
    const s = scattered(300);
    expect(proofSample(s)).toEqual(s);
  });

  it('of a large store: the first and last by store and by device offset, and one from each slice of the device', () => {
    const s = scattered(100_000);
    const sample = proofSample(s, 512);
    expect(sample).toHaveLength(512);
    expect(sample).toContain(s[0]);
    expect(sample).toContain(s[s.length - 1]);
    const byDevice = [...s].sort((a, b) => a.physical - b.physical);
    expect(sample).toContain(byDevice[0]);
    expect(sample).toContain(byDevice[byDevice.length - 1]);
    // Every 1/254 of the segments in device order (two of the sample's 508 slices) holds a
    // sampled one: an error in any region of the device that wide is written into and read back.
    const rank = new Map(byDevice.map((seg, i) => [seg, i]));
    const regions = new Set(sample.map((seg) => Math.floor((rank.get(seg)! * 254) / s.length)));
    expect(regions.size).toBe(254);
    // In store order, as the proof writes them.
    expect(sample.map((seg) => seg.storeOffset)).toEqual([...sample.map((seg) => seg.storeOffset)].sort((a, b) => a - b));
  });

  it('is exactly as large as asked, however the random picks fall', () => {
    for (const n of [513, 600, 1023, 1025, 5000]) {
      const s = scattered(n);
      for (const pick of [() => 0, (below: number) => below - 1]) expect(proofSample(s, 512, pick), `${n}`).toHaveLength(512);
    }
  });

  it('differs from run to run (a random pick per slice)', () => {
    const s = scattered(50_000);
    const a = proofSample(s).map((x) => x.storeOffset).join();
    const b = proofSample(s).map((x) => x.storeOffset).join();
    expect(a).not.toBe(b);
  });
});
