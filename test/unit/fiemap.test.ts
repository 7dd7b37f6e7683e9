import { describe, expect, it } from 'vitest';
import { alignToChunks } from '../../src/fiemap/align.js';
import { coalesce } from '../../src/fiemap/coalesce.js';
import type { RawExtent } from '../../src/fiemap/extent.js';
import { ExtentColumns } from '../../src/fiemap/extent.js';
import { EXTENT_FLAGS } from '../../src/fiemap/struct.js';
import { checkLast, ExtentRefusedError, REFUSED_FLAGS, validateExtents } from '../../src/fiemap/validate.js';
import { linearTableText } from '../../src/dm/table-text.js';
import { SegmentColumns, type StoreSegment } from '../../src/fiemap/align.js';
import type { DeviceNumber } from '../../src/linux/device-number.js';
import { deviceNumber } from '../../src/linux/device-number.js';
import type { Bytes } from '../../src/units/units.js';
import { bytes, chunkSize } from '../../src/units/units.js';

const K = 1024;
/** The store's map as the lines of its `linear` table. */
function linearTableLines(segments: readonly StoreSegment[], device: DeviceNumber): string[] {
  const c = SegmentColumns.from(segments);
  const text = linearTableText({ count: c.count, start: c.storeOffset, length: c.length, offset: c.physical }, device).toString('latin1');
  return text ? text.slice(0, -1).split('\n') : [];
}
const ext = (logical: number, physical: number, length: number, flags = 0): RawExtent => ({
  logical: logical as Bytes,
  physical: physical as Bytes,
  length: length as Bytes,
  flags,
});

const cols = (extents: RawExtent[]) => ExtentColumns.from(extents);

describe('coalesce', () => {
  it('joins extents contiguous in the file and on the device, whatever their flags', () => {
    const out = coalesce(
      cols([ext(0, 1000 * K, 4 * K, EXTENT_FLAGS.UNWRITTEN), ext(4 * K, 1004 * K, 8 * K), ext(12 * K, 2000 * K, 4 * K, EXTENT_FLAGS.LAST)]),
      bytes(16 * K),
    );
    expect(out.toArray()).toEqual([
      { logical: 0, physical: 1000 * K, length: 12 * K, flags: 0 },
      { logical: 12 * K, physical: 2000 * K, length: 4 * K, flags: 0 },
    ]);
  });
  it('keeps extents apart that are contiguous on the device but not in the file', () => {
    expect(coalesce(cols([ext(0, 0, 4 * K), ext(8 * K, 4 * K, 4 * K)]), bytes(12 * K)).count).toBe(2);
  });
  it('clips the map at the file size', () => {
    expect(coalesce(cols([ext(0, 0, 8 * K, EXTENT_FLAGS.LAST)]), bytes(6 * K)).toArray()).toEqual([{ logical: 0, physical: 0, length: 6 * K, flags: 0 }]);
  });
});

describe('alignToChunks', () => {
  const c = chunkSize(bytes(4 * K));
  it('keeps aligned extents whole and numbers the store contiguously', () => {
    const m = alignToChunks(coalesce(cols([ext(0, 8 * K, 8 * K), ext(8 * K, 64 * K, 4 * K)]), bytes(12 * K)), c);
    expect(m.segments).toEqual([
      { storeOffset: 0, fileOffset: 0, physical: 8 * K, length: 8 * K },
      { storeOffset: 8 * K, fileOffset: 8 * K, physical: 64 * K, length: 4 * K },
    ]);
    expect(m.droppedBytes).toBe(0);
    expect(m.usableBytes).toBe(12 * K);
  });
  it('drops unaligned heads and tails and says how much', () => {
    // 1 KiB-block filesystem: an extent at device byte 3 KiB, 10 KiB long.
    const m = alignToChunks(cols([ext(0, 3 * K, 10 * K)]), c);
    expect(m.segments).toEqual([{ storeOffset: 0, fileOffset: 1 * K, physical: 4 * K, length: 8 * K }]);
    expect(m.droppedBytes).toBe(2 * K);
  });
  it('drops an extent smaller than a chunk entirely', () => {
    const m = alignToChunks(cols([ext(0, 1 * K, 4 * K)]), c);
    expect(m.segments).toEqual([]);
    expect(m.droppedBytes).toBe(4 * K);
  });
});

describe('refusals', () => {
  for (const [flag] of REFUSED_FLAGS) {
    it(`refuses ${flag}, naming the flag and the extent`, () => {
      const extents = [ext(0, 0, 4 * K), ext(4 * K, 8 * K, 4 * K, EXTENT_FLAGS[flag] | EXTENT_FLAGS.LAST)];
      expect(() => validateExtents('/s', cols(extents), bytes(8 * K))).toThrow(ExtentRefusedError);
      expect(() => validateExtents('/s', cols(extents), bytes(8 * K))).toThrow(new RegExp(`extent 1 .* is ${flag}`));
    });
  }
  it('accepts UNWRITTEN (normal after fallocate)', () => {
    expect(() => validateExtents('/s', cols([ext(0, 0, 4 * K, EXTENT_FLAGS.UNWRITTEN | EXTENT_FLAGS.LAST)]), bytes(4 * K))).not.toThrow();
  });
  it('refuses a hole between extents', () => {
    expect(() => validateExtents('/s', cols([ext(0, 0, 4 * K), ext(8 * K, 8 * K, 4 * K, EXTENT_FLAGS.LAST)]), bytes(12 * K))).toThrow(
      /hole at file offset 4096/,
    );
  });
  it('refuses a hole at the end', () => {
    expect(() => validateExtents('/s', cols([ext(0, 0, 4 * K, EXTENT_FLAGS.LAST)]), bytes(12 * K))).toThrow(/hole at file offset 4096/);
  });
  it('refuses a file with no extents at all', () => {
    expect(() => validateExtents('/s', cols([]), bytes(4 * K))).toThrow(/hole at file offset 0/);
  });
  it('refuses overlapping or unordered extents', () => {
    expect(() => validateExtents('/s', cols([ext(4 * K, 0, 4 * K), ext(0, 8 * K, 4 * K, EXTENT_FLAGS.LAST)]), bytes(8 * K))).toThrow(/overlaps or precedes/);
  });
  it('refuses extents that are not whole sectors', () => {
    expect(() => validateExtents('/s', cols([ext(0, 100, 4 * K, EXTENT_FLAGS.LAST)]), bytes(4 * K))).toThrow(/512-byte sectors/);
  });
  it('refuses a list without the LAST flag', () => {
    expect(() => checkLast('/s', cols([ext(0, 0, 4 * K)]))).toThrow(/FIEMAP_EXTENT_LAST/);
  });
});

describe('table text', () => {
  it('writes numbers of every size exactly', () => {
    const big = 2 ** 52; // bytes; sectors 2^43, beyond int32
    const m = alignToChunks(cols([ext(0, big, 4 * K), ext(4 * K, 0, 4 * K), ext(8 * K, 1e15 - (1e15 % 4096), 4 * K)]), chunkSize(bytes(4 * K)));
    expect(linearTableLines(m.segments, deviceNumber(8, 1))).toEqual([
      `0 8 linear 8:1 ${big / 512}`,
      '8 8 linear 8:1 0',
      `16 8 linear 8:1 ${(1e15 - (1e15 % 4096)) / 512}`,
    ]);
  });

  it('renders one linear segment a line, in sectors', () => {
    const m = alignToChunks(cols([ext(0, 1 << 20, 8 * K), ext(8 * K, 4 * K, 4 * K)]), chunkSize(bytes(4 * K)));
    expect(linearTableLines(m.segments, deviceNumber(254, 3))).toEqual(['0 16 linear 254:3 2048', '16 8 linear 254:3 8']);
  });
});
