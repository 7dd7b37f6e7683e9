import { describe, expect, it } from 'vitest';
import {
  alignDown,
  alignUp,
  bytes,
  bytesToChunks,
  bytesToSectors,
  chunkSize,
  formatBytes,
  parseSize,
  sectorsToBytes,
  UnitError,
} from '../../src/units/units.js';

describe('parseSize', () => {
  it.each([
    ['512', 512],
    ['64K', 65536],
    ['64k', 65536],
    ['1G', 1073741824],
    ['1.5G', 1610612736],
    ['4KiB', 4096],
    ['512B', 512],
    ['2MiB', 2097152],
    ['2M', 2097152],
    ['1T', 1024 ** 4],
  ])('%s is %d bytes', (text, want) => {
    expect(parseSize(text)).toBe(want);
  });

  it('refuses MB, GB: decimal or binary is ambiguous', () => {
    expect(() => parseSize('5MB')).toThrow(/ambiguous .*write 5M or 5MiB/);
  });

  it.each(['', 'abc', '-1', '1X', '1.5', '0.3K', '1e9', '1 G B', '9999999P', '5KB'])('refuses %j with a clear error', (text) => {
    expect(() => parseSize(text)).toThrow(UnitError);
    expect(() => parseSize(text)).toThrow(/size|bytes|safe/);
  });
});

describe('conversions check alignment', () => {
  it('bytes to sectors', () => {
    expect(bytesToSectors(bytes(4096))).toBe(8);
    expect(() => bytesToSectors(bytes(4095))).toThrow(/not a whole number of 512-byte sectors/);
  });
  it('sectors to bytes is checked', () => {
    expect(sectorsToBytes(bytesToSectors(bytes(1 << 30)))).toBe(1 << 30);
  });
  it('chunk sizes are powers of two from 512 bytes', () => {
    expect(chunkSize(bytes(4096)).sectors).toBe(8);
    expect(() => chunkSize(bytes(3000))).toThrow(/power of two/);
    expect(() => chunkSize(bytes(256))).toThrow(/power of two/);
  });
  it('bytes to chunks refuses partial chunks', () => {
    const c = chunkSize(bytes(8192));
    expect(bytesToChunks(bytes(65536), c)).toBe(8);
    expect(() => bytesToChunks(bytes(4096), c)).toThrow(/whole number/);
  });
  it('constructors refuse unsafe and negative values', () => {
    expect(() => bytes(2n ** 60n)).toThrow(/safe integer/);
    expect(() => bytes(-1)).toThrow(UnitError);
    expect(() => bytes(1.5)).toThrow(UnitError);
  });
  it('aligns up and down', () => {
    expect(alignUp(bytes(4097), 4096)).toBe(8192);
    expect(alignDown(bytes(4097), 4096)).toBe(4096);
    expect(alignUp(bytes(8192), 4096)).toBe(8192);
  });
  it('formats bytes for people', () => {
    expect(formatBytes(1536 * 1024 * 1024)).toBe('1.5 GiB');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(20 * 1024 * 1024 - 8192)).toBe('19.99 MiB');
    expect(formatBytes(8 * 1024 * 1024 - 4096)).toBe('7.99 MiB');
  });
});
