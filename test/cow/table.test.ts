import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bytes, chunkSize, chunks } from '../../src/units/units.js';
import { MemoryIo } from '../../src/blockio/index.js';
import { DiskException, DiskHeader, Layout } from '../../src/cow/format.js';
import { checkAgainstOrigin, readTable } from '../../src/cow/exception-table.js';
import { K4, buildStore } from './helpers.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

function setEntry(store: MemoryIo, layout: Layout, area: number, index: number, oldChunk: bigint, newChunk: bigint): void {
  DiskException.encode(
    { old_chunk: oldChunk, new_chunk: newChunk },
    store.data,
    layout.offsetOf(layout.areaChunk(area)) + index * DiskException.size,
  );
}

describe('format', () => {
  it('describes the kernel structs and layout', () => {
    expect(DiskHeader.size).toBe(16);
    expect(DiskException.size).toBe(16);
    const l = new Layout(K4);
    expect(l.epa).toBe(256);
    expect(l.areaChunk(0)).toBe(1);
    expect(l.areaChunk(1)).toBe(258);
    expect(l.isMetadataChunk(chunks(0))).toBe(true);
    expect(l.isMetadataChunk(chunks(258))).toBe(true);
    expect(l.isMetadataChunk(chunks(257))).toBe(false);
    expect(l.dataChunk(1, 0)).toBe(259);
  });

  it('names struct, field and offset when a buffer is short', () => {
    expect(() => DiskHeader.decode(Buffer.alloc(10), 0, 'test byte 0')).toThrow(/disk_header\.version at byte 8 .*test byte 0/);
  });
});

describe('readTable', () => {
  it('reads what the writer wrote, with the kernel allocation', () => {
    const { store } = buildStore([7, 3, 100]);
    const t = readTable(store);
    expect(t.valid).toBe(true);
    expect(t.chunk.bytes).toBe(4096);
    expect(t.exceptions).toEqual([
      { oldChunk: 7, newChunk: 2 },
      { oldChunk: 3, newChunk: 3 },
      { oldChunk: 100, newChunk: 4 },
    ]);
    expect(t.areasRead).toBe(1);
    expect(t.nextFree).toBe(5);
  });

  it.each([255, 256, 257, 512, 513])('round-trips %i exceptions at the 256-per-area boundary', (n) => {
    const olds = Array.from({ length: n }, (_, i) => i * 3);
    const { store } = buildStore(olds);
    const t = readTable(store);
    expect(t.exceptions.map((e) => e.oldChunk)).toEqual(olds);
    const l = t.layout;
    for (const e of t.exceptions) expect(l.isMetadataChunk(e.newChunk)).toBe(false);
    // A full area makes the kernel read the next one (zeroed by the writer).
    expect(t.areasRead).toBe(Math.floor(n / 256) + 1);
    if (n >= 257) expect(t.exceptions[256]!.newChunk).toBe(259); // chunk 258 is area 1
  });

  it('round-trips random exception sets (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 100_000 }), { maxLength: 700 }),
        fc.constantFrom(512, 1024, 4096, 8192),
        (olds, cb) => {
          const { store } = buildStore(olds, { chunk: chunkSize(bytes(cb)) });
          const t = readTable(store);
          expect(t.exceptions.map((e) => e.oldChunk)).toEqual(olds);
          expect(new Set(t.exceptions.map((e) => e.newChunk)).size).toBe(olds.length);
          for (const e of t.exceptions) expect(t.layout.isMetadataChunk(e.newChunk)).toBe(false);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('stops at the first zero new_chunk, as the kernel does, ignoring what follows', () => {
    const { store } = buildStore([1, 2, 3]);
    const l = new Layout(K4);
    setEntry(store, l, 0, 1, 2n, 0n);
    expect(readTable(store).exceptions).toEqual([{ oldChunk: 1, newChunk: 2 }]);
  });

  it('reports valid = 0', () => {
    const { store, writer } = buildStore([1]);
    writer.writeHeader(false);
    expect(readTable(store).valid).toBe(false);
  });

  it('refuses an all-zero store as never written', () => {
    expect(() => readTable(MemoryIo.zeroed(bytes(65536)))).toThrow(/no snapshot ever wrote to it/);
  });

  const refusals: [string, string, (s: MemoryIo) => MemoryIo | void][] = [
    ['bad magic', 'COW_BAD_MAGIC', (s) => void s.data.writeUInt32LE(0x12345678, 0)],
    ['flipped magic byte', 'COW_BAD_MAGIC', (s) => void (s.data[1]! ^= 0x40)],
    ['version 2', 'COW_BAD_VERSION', (s) => void s.data.writeUInt32LE(2, 8)],
    ['chunk size 0', 'COW_BAD_CHUNK_SIZE', (s) => void s.data.writeUInt32LE(0, 12)],
    ['chunk size 24 sectors', 'COW_BAD_CHUNK_SIZE', (s) => void s.data.writeUInt32LE(24, 12)],
    ['new_chunk beyond the store', 'COW_NEW_CHUNK_BEYOND_STORE', (s) => setEntry(s, new Layout(K4), 0, 1, 2n, 1n << 40n)],
    ['flipped high byte of new_chunk', 'COW_NEW_CHUNK_BEYOND_STORE', (s) => void (s.data[4096 + 16 + 8 + 5]! ^= 1)],
    ['new_chunk on area 1', 'COW_NEW_CHUNK_ON_METADATA', (s) => setEntry(s, new Layout(K4), 0, 1, 2n, 258n)],
    ['new_chunk on area 0', 'COW_NEW_CHUNK_ON_METADATA', (s) => setEntry(s, new Layout(K4), 0, 1, 2n, 1n)],
    ['same old_chunk twice', 'COW_DUPLICATE_OLD_CHUNK', (s) => setEntry(s, new Layout(K4), 0, 2, 1n, 4n)],
    ['same new_chunk twice', 'COW_DUPLICATE_NEW_CHUNK', (s) => setEntry(s, new Layout(K4), 0, 2, 99n, 2n)],
    ['store shorter than its header chunk', 'COW_TRUNCATED', (s) => new MemoryIo(s.data.subarray(0, 2048))],
    ['store of 100 bytes', 'COW_TRUNCATED', (s) => new MemoryIo(s.data.subarray(0, 100))],
  ];
  it.each(refusals)('refuses %s', (_what, code, corrupt) => {
    const { store } = buildStore([1, 2, 3], { storeChunks: 400 });
    const target = corrupt(store) ?? store;
    expect(codeOf(() => readTable(target))).toBe(code);
  });

  it('refuses a table that runs off the end of a truncated store', () => {
    const olds = Array.from({ length: 256 }, (_, i) => i);
    const { store } = buildStore(olds);
    // Area 0 is full and ends at chunk 257: cut before area 1 (chunk 258).
    const cut = new MemoryIo(store.data.subarray(0, 258 * 4096), 'cut');
    expect(() => readTable(cut)).toThrow(/runs off the end of the store: area 0 is full, so area 1 must follow at chunk 258/);
  });

  it('names the entry and its byte offset', () => {
    const { store } = buildStore([1, 2, 3]);
    setEntry(store, new Layout(K4), 0, 2, 1n, 4n);
    expect(() => readTable(store)).toThrow(/disk_exception 2 of area 0, field old_chunk at store byte 4128 is 1, already the old_chunk of disk_exception 0 of area 0/);
  });
});

describe('checkAgainstOrigin', () => {
  it('refuses an old_chunk beyond the origin', () => {
    const t = readTable(buildStore([5, 9]).store);
    expect(() => checkAgainstOrigin(t, { name: 'origin', size: bytes(9 * 4096) })).toThrow(/old_chunk 9 .*beyond the end of origin/);
    expect(() => checkAgainstOrigin(t, { name: 'origin', size: bytes(9 * 4096 + 1) })).not.toThrow();
  });

  it("refuses an old_chunk inside the store's own extents", () => {
    const t = readTable(buildStore([5, 9]).store);
    const origin = { name: 'origin', size: bytes(1 << 20) };
    expect(() => checkAgainstOrigin(t, origin, [{ offset: bytes(9 * 4096 + 4095), length: bytes(1) }])).toThrow(
      /old_chunk 9 .*inside the store's own extent/,
    );
    expect(() => checkAgainstOrigin(t, origin, [{ offset: bytes(6 * 4096), length: bytes(3 * 4096) }])).not.toThrow();
  });
});
