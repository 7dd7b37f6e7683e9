import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bytes, chunkSize } from '../../src/units/units.js';
import { type BlockIo, FaultyIo, MemoryIo } from '../../src/blockio/index.js';
import { mergeOffline } from '../../src/cow/merge.js';
import { readTable } from '../../src/cow/exception-table.js';
import { DiskException, Layout } from '../../src/cow/format.js';
import { K4, VolatileCacheIo, buildStore, pattern, referenceMerge, sha } from './helpers.js';

const ORIGIN_CHUNKS = 2048;

function origin(size = ORIGIN_CHUNKS * 4096): MemoryIo {
  return new MemoryIo(pattern(size, 7), 'origin');
}

function scattered(n: number, seed: number, max = ORIGIN_CHUNKS): number[] {
  const set = new Set<number>();
  let x = seed;
  while (set.size < n) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    set.add(x % max);
  }
  return [...set];
}

describe('mergeOffline', () => {
  it('writes every exception back, coalescing neighbours', () => {
    const olds = [10, 11, 12, 500, 3, 4];
    const { store } = buildStore(olds);
    const o = origin();
    const expected = referenceMerge(o.data, olds, 4096);
    const s = mergeOffline(o, store);
    expect(s.outcome).toBe('merged');
    expect(s.chunks).toBe(6);
    expect(s.bytes).toBe(6 * 4096);
    expect(s.writes).toBe(3); // 3-4, 10-12, 500
    expect(s.reads).toBe(1); // chunks 2..7 are contiguous
    expect(o.data.equals(expected)).toBe(true);
    expect(readTable(store).exceptions).toEqual([]);
  });

  it('equals the reference model for random sets, chunk sizes and batch sizes (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 599 }), { maxLength: 400 }),
        fc.constantFrom(512, 4096, 8192),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 0, max: 511 }),
        (olds, cb, batchChunks, tail) => {
          const chunk = chunkSize(bytes(cb));
          const size = 600 * cb - (tail % cb); // a last chunk cut short, sometimes
          const { store } = buildStore(olds, { chunk });
          const o = new MemoryIo(pattern(size, 3), 'origin');
          const expected = referenceMerge(o.data, olds, cb);
          mergeOffline(o, store, { batchBytes: bytes(batchChunks * cb), limits: { maxReadBytes: bytes(5 * cb), maxWriteBytes: bytes(3 * cb) } });
          expect(o.data.equals(expected)).toBe(true);
          expect(readTable(store).exceptions.length).toBe(0);
        },
      ),
      { numRuns: 80 },
    );
  });

  it.each([255, 256, 257])('merges %i exceptions (area boundary) in one-area batches', (n) => {
    const olds = scattered(n, n);
    const { store } = buildStore(olds);
    const o = origin();
    const expected = referenceMerge(o.data, olds, 4096);
    const s = mergeOffline(o, store, { batchBytes: bytes(256 * 4096) });
    expect(s.batches).toBe(Math.ceil(n / 256));
    expect(o.data.equals(expected)).toBe(true);
  });

  it('says so on a rerun after completion, and on a store with no exceptions', () => {
    const { store } = buildStore([1, 2]);
    const o = origin();
    mergeOffline(o, store);
    const again = mergeOffline(o, store);
    expect(again).toMatchObject({ outcome: 'already-merged', totalExceptions: 2, alreadyMerged: 2, chunks: 0 });
    expect(mergeOffline(origin(), buildStore([]).store).outcome).toBe('nothing-to-merge');
  });

  it('dry run plans and writes nothing', () => {
    const { store } = buildStore([5, 6, 9]);
    const o = origin();
    const before = [sha(o.data), sha(store.data)];
    const s = mergeOffline(o, store, { dryRun: true });
    expect(s.outcome).toBe('dry-run');
    expect(s.plan).toEqual([
      { offset: 5 * 4096, length: 8192 },
      { offset: 9 * 4096, length: 4096 },
    ]);
    expect([sha(o.data), sha(store.data)]).toEqual(before);
  });

  it('verify catches an origin that does not keep what was written', () => {
    const { store } = buildStore([5]);
    const o = origin();
    const liar: BlockIo = {
      name: 'liar',
      size: o.size,
      read: (off, len) => o.read(off, len),
      write: (off, data) => o.write(off, Buffer.alloc(data.length, 0xee)),
      flush: () => {},
      close: () => {},
    };
    expect(() => mergeOffline(liar, store, { verify: true })).toThrow(/verifying origin chunk 5 .* does not read back/);
    expect(readTable(store).exceptions.length).toBe(1); // the batch was not consumed
    expect(mergeOffline(o, store, { verify: true }).verified).toBe(true);
  });
});

describe('merge refusals leave both inputs untouched', () => {
  const l = new Layout(K4);
  const cases: [string, RegExp, (s: MemoryIo) => MemoryIo | void, object?, number?][] = [
    ['bad magic', /not a persistent exception store/, (s) => void s.data.writeUInt32LE(1, 0)],
    ['version 2', /version at byte 8 is 2/, (s) => void s.data.writeUInt32LE(2, 8)],
    ['chunk size 0', /chunk_size at byte 12 is 0/, (s) => void s.data.writeUInt32LE(0, 12)],
    ['chunk size 3', /chunk_size at byte 12 is 3 /, (s) => void s.data.writeUInt32LE(3, 12)],
    ['never written', /no snapshot ever wrote/, (s) => void s.data.fill(0)],
    ['new_chunk beyond store', /beyond the store/, (s) => DiskException.encode({ old_chunk: 1n, new_chunk: 99999n }, s.data, 4096)],
    ['new_chunk on metadata', /metadata area chunk/, (s) => DiskException.encode({ old_chunk: 1n, new_chunk: 258n }, s.data, 4096 + 16)],
    ['duplicate old_chunk', /already the old_chunk/, (s) => DiskException.encode({ old_chunk: 1n, new_chunk: 4n }, s.data, 4096 + 32)],
    ['old_chunk beyond origin', /beyond the end of origin/, (s) => DiskException.encode({ old_chunk: 5000n, new_chunk: 4n }, s.data, 4096 + 32)],
    ['truncated store', /runs off the end/, (s) => new MemoryIo(s.data.subarray(0, 258 * 4096), 'store'), {}, 256],
    ['invalid snapshot', /marked Invalid/, (s) => void s.data.writeUInt32LE(0, 4)],
    ['old_chunk inside the store', /inside the store's own extent/, () => {}, { storeExtents: [{ offset: bytes(4096), length: bytes(4096) }] }],
  ];
  it.each(cases)('%s', (_what, message, corrupt, options = {}, n = 3) => {
    const olds = Array.from({ length: n }, (_, i) => i);
    const { store } = buildStore(olds, { storeChunks: 400 });
    const target = corrupt(store) ?? store;
    const o = origin();
    const before = [sha(o.data), sha(target.data)];
    expect(() => mergeOffline(o, target, options)).toThrow(message);
    expect([sha(o.data), sha(target.data)]).toEqual(before);
  });

  it('merges an invalid snapshot with force', () => {
    const { store, writer } = buildStore([3]);
    writer.writeHeader(false);
    const o = origin();
    expect(mergeOffline(o, store, { force: true }).outcome).toBe('merged');
  });
});

describe('failures and crashes mid-merge', () => {
  const olds = scattered(600, 42);
  const opts = { batchBytes: bytes(100 * 4096), limits: { maxReadBytes: bytes(64 * 4096), maxWriteBytes: bytes(4 * 4096) } };

  it.each([
    ['origin', 'write', 37],
    ['origin', 'flush', 3],
    ['store', 'read', 9],
    ['store', 'write', 4],
    ['store', 'flush', 2],
  ] as const)('a failed %s %s names the chunk and a rerun completes', (which, op, nth) => {
    const { store } = buildStore(olds);
    const o = origin();
    const expected = referenceMerge(o.data, olds, 4096);
    const faulty = which === 'origin' ? { o: new FaultyIo(o, { op, nth }), s: store } : { o, s: new FaultyIo(store, { op, nth }) };
    let message = '';
    try {
      mergeOffline(faulty.o, faulty.s, opts);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/EIO/);
    if (op === 'write' && which === 'origin') expect(message).toMatch(/writing origin chunks? \d+/);
    if (op === 'read') expect(message).toMatch(/(reading store chunks \d+\.\.\d+|area)/);
    const rerun = mergeOffline(o, store, opts);
    expect(rerun.outcome).toBe('merged');
    expect(rerun.totalExceptions).toBe(600);
    expect(o.data.equals(expected)).toBe(true);
  });

  it('power loss before any write or flush, then a rerun, gives the uninterrupted result', () => {
    const base = buildStore(olds).store.data;
    const originBase = origin().data;
    const expected = referenceMerge(originBase, olds, 4096);
    // Count the writes and flushes of one full run, then cut power before each of them.
    let total = 0;
    {
      const s = new MemoryIo(Buffer.from(base), 'store');
      const o = new MemoryIo(Buffer.from(originBase), 'origin');
      const counting = (d: MemoryIo): BlockIo => ({
        name: d.name,
        size: d.size,
        read: (a, b) => d.read(a, b),
        write: (a, data) => { total++; d.write(a, data); },
        flush: () => { total++; },
        close: () => {},
      });
      mergeOffline(counting(o), counting(s), opts);
    }
    expect(total).toBeGreaterThan(100);
    for (let stop = 1; stop <= total; stop++) {
      const oDisk = new VolatileCacheIo(Buffer.from(originBase), 'origin');
      const sDisk = new VolatileCacheIo(Buffer.from(base), 'store');
      let ops = 0;
      const cut = (d: VolatileCacheIo): BlockIo => ({
        name: d.name,
        size: d.size,
        read: (a, b) => d.read(a, b),
        write: (a, data) => {
          if (++ops >= stop) throw new Error('power lost');
          d.write(a, data);
        },
        flush: () => {
          if (++ops >= stop) throw new Error('power lost');
          d.flush();
        },
        close: () => {},
      });
      try {
        mergeOffline(cut(oDisk), cut(sDisk), opts);
      } catch {
        /* the power went */
      }
      const o = new MemoryIo(oDisk.powerLoss(), 'origin');
      const s = new MemoryIo(sDisk.powerLoss(), 'store');
      const rerun = mergeOffline(o, s, opts);
      expect(['merged', 'already-merged']).toContain(rerun.outcome);
      expect(o.data.equals(expected), `power lost before operation ${stop} of ${total}`).toBe(true);
    }
  });
});
