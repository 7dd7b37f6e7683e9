import { describe, expect, it } from 'vitest';
import { alignToChunks } from '../../src/fiemap/align.js';
import { coalesce } from '../../src/fiemap/coalesce.js';
import type { RawExtent } from '../../src/fiemap/extent.js';
import { EXTENT_FLAGS } from '../../src/fiemap/struct.js';
import { checkLast, ExtentRefusedError, REFUSED_FLAGS, validateExtents } from '../../src/fiemap/validate.js';
import { linearTableLines } from '../../src/store/cow-table.js';
import { deviceNumber } from '../../src/linux/device-number.js';
import type { Bytes } from '../../src/units/units.js';
import { bytes, chunkSize } from '../../src/units/units.js';

const K = 1024;
const ext = (logical: number, physical: number, length: number, flags = 0): RawExtent => ({
  logical: logical as Bytes,
  physical: physical as Bytes,
  length: length as Bytes,
  flags,
});

describe('coalesce', () => {
  it('joins extents contiguous in the file and on the device, whatever their flags', () => {
    const out = coalesce(
      [ext(0, 1000 * K, 4 * K, EXTENT_FLAGS.UNWRITTEN), ext(4 * K, 1004 * K, 8 * K), ext(12 * K, 2000 * K, 4 * K, EXTENT_FLAGS.LAST)],
      bytes(16 * K),
    );
    expect(out).toEqual([
      { logical: 0, physical: 1000 * K, length: 12 * K },
      { logical: 12 * K, physical: 2000 * K, length: 4 * K },
    ]);
  });
  it('keeps extents apart that are contiguous on the device but not in the file', () => {
    expect(coalesce([ext(0, 0, 4 * K), ext(8 * K, 4 * K, 4 * K)], bytes(12 * K))).toHaveLength(2);
  });
  it('clips the map at the file size', () => {
    expect(coalesce([ext(0, 0, 8 * K, EXTENT_FLAGS.LAST)], bytes(6 * K))).toEqual([{ logical: 0, physical: 0, length: 6 * K }]);
  });
});

describe('alignToChunks', () => {
  const c = chunkSize(bytes(4 * K));
  it('keeps aligned extents whole and numbers the store contiguously', () => {
    const m = alignToChunks(coalesce([ext(0, 8 * K, 8 * K), ext(8 * K, 64 * K, 4 * K)], bytes(12 * K)), c);
    expect(m.segments).toEqual([
      { storeOffset: 0, fileOffset: 0, physical: 8 * K, length: 8 * K },
      { storeOffset: 8 * K, fileOffset: 8 * K, physical: 64 * K, length: 4 * K },
    ]);
    expect(m.droppedBytes).toBe(0);
    expect(m.usableBytes).toBe(12 * K);
  });
  it('drops unaligned heads and tails and says how much', () => {
    // 1 KiB-block filesystem: an extent at device byte 3 KiB, 10 KiB long.
    const m = alignToChunks([{ logical: bytes(0), physical: bytes(3 * K), length: bytes(10 * K) }], c);
    expect(m.segments).toEqual([{ storeOffset: 0, fileOffset: 1 * K, physical: 4 * K, length: 8 * K }]);
    expect(m.droppedBytes).toBe(2 * K);
  });
  it('drops an extent smaller than a chunk entirely', () => {
    const m = alignToChunks([{ logical: bytes(0), physical: bytes(1 * K), length: bytes(4 * K) }], c);
    expect(m.segments).toEqual([]);
    expect(m.droppedBytes).toBe(4 * K);
  });
});

describe('refusals', () => {
  for (const [flag] of REFUSED_FLAGS) {
    it(`refuses ${flag}, naming the flag and the extent`, () => {
      const extents = [ext(0, 0, 4 * K), ext(4 * K, 8 * K, 4 * K, EXTENT_FLAGS[flag] | EXTENT_FLAGS.LAST)];
      expect(() => validateExtents('/s', extents, bytes(8 * K))).toThrow(ExtentRefusedError);
      expect(() => validateExtents('/s', extents, bytes(8 * K))).toThrow(new RegExp(`extent 1 .* is ${flag}`));
    });
  }
  it('accepts UNWRITTEN (normal after fallocate)', () => {
    expect(() => validateExtents('/s', [ext(0, 0, 4 * K, EXTENT_FLAGS.UNWRITTEN | EXTENT_FLAGS.LAST)], bytes(4 * K))).not.toThrow();
  });
  it('refuses a hole between extents', () => {
    expect(() => validateExtents('/s', [ext(0, 0, 4 * K), ext(8 * K, 8 * K, 4 * K, EXTENT_FLAGS.LAST)], bytes(12 * K))).toThrow(
      /hole at file offset 4096/,
    );
  });
  it('refuses a hole at the end', () => {
    expect(() => validateExtents('/s', [ext(0, 0, 4 * K, EXTENT_FLAGS.LAST)], bytes(12 * K))).toThrow(/hole at file offset 4096/);
  });
  it('refuses a file with no extents at all', () => {
    expect(() => validateExtents('/s', [], bytes(4 * K))).toThrow(/hole at file offset 0/);
  });
  it('refuses overlapping or unordered extents', () => {
    expect(() => validateExtents('/s', [ext(4 * K, 0, 4 * K), ext(0, 8 * K, 4 * K, EXTENT_FLAGS.LAST)], bytes(8 * K))).toThrow(/overlaps or precedes/);
  });
  it('refuses extents that are not whole sectors', () => {
    expect(() => validateExtents('/s', [ext(0, 100, 4 * K, EXTENT_FLAGS.LAST)], bytes(4 * K))).toThrow(/512-byte sectors/);
  });
  it('refuses a list without the LAST flag', () => {
    expect(() => checkLast('/s', [ext(0, 0, 4 * K)])).toThrow(/FIEMAP_EXTENT_LAST/);
  });
});

describe('table text', () => {
  it('renders one linear segment a line, in sectors', () => {
    const m = alignToChunks([{ logical: bytes(0), physical: bytes(1 << 20), length: bytes(8 * K) }, { logical: bytes(8 * K), physical: bytes(4 * K), length: bytes(4 * K) }], chunkSize(bytes(4 * K)));
    expect(linearTableLines(m.segments, deviceNumber(254, 3))).toEqual(['0 16 linear 254:3 2048', '16 8 linear 254:3 8']);
  });
});
