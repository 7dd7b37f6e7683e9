// Stores written by the real kernel (fixtures/cow, made in the VM by make-fixtures.mjs with
// dmsetup and dd only; see fixtures/cow/README.md). For each: the exceptions our reader finds
// are exactly those the kernel wrote (the chunks the writes touched, each holding what the
// snapshot device showed for it), our usage figures equal the kernel's status line, our export
// equals the snapshot view read from /dev/mapper/<snap> byte for byte, and an offline merge
// turns the origin into that view.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { MemoryIo } from '../../src/blockio/index.js';
import { readTable } from '../../src/cow/exception-table.js';
import { exportView } from '../../src/cow/export.js';
import { mergeOffline } from '../../src/cow/merge.js';
import { inspectStore } from '../../src/cow/inspect.js';
import { parseSnapshotStatus } from '../../src/dm/status.js';
import { bytes } from '../../src/units/units.js';
import { sha } from './helpers.js';

interface Expected {
  name: string;
  kernel: string;
  chunkBytes: number;
  through: 'origin' | 'snapshot';
  originBytes: number;
  cowBytes: number;
  status: string;
  writes: { offset: number; length: number }[];
  originBeforeSha256: string;
  originAfterSha256: string;
  snapshotViewSha256: string;
  exceptions: { oldChunk: number; sha256: string }[];
}

const root = 'fixtures/cow';
const names = readdirSync(root).filter((n) => existsSync(join(root, n, 'expected.json'))).sort();

function load(name: string): { expected: Expected; origin: Buffer; cow: Buffer } {
  const dir = join(root, name);
  return {
    expected: JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected,
    origin: gunzipSync(readFileSync(join(dir, 'origin.img.gz'))),
    cow: gunzipSync(readFileSync(join(dir, 'cow.img.gz'))),
  };
}

test('every chunk size and both ways of writing have a kernel fixture', () => {
  expect(names).toEqual(['k4-through-origin', 'k4-through-snapshot', 'k64-through-origin', 'k64-through-snapshot', 'k8-through-origin', 'k8-through-snapshot']);
});

describe.each(names)('kernel fixture %s', (name) => {
  const { expected, origin, cow } = load(name);

  test('the images are the ones the kernel left (sizes and hashes)', () => {
    expect(origin.length).toBe(expected.originBytes);
    expect(cow.length).toBe(expected.cowBytes);
    expect(sha(origin)).toBe(expected.originAfterSha256);
    // What the kernel promised: origin writes leave the old data in the snapshot; snapshot
    // writes leave the origin alone.
    if (expected.through === 'origin') expect(expected.snapshotViewSha256).toBe(expected.originBeforeSha256);
    else expect(expected.originAfterSha256).toBe(expected.originBeforeSha256);
    expect(expected.writes.some((w) => w.length >= 1 << 20)).toBe(true);
  });

  test('our reader finds exactly the exceptions the kernel wrote, with the data the snapshot showed', () => {
    const store = new MemoryIo(Buffer.from(cow), 'cow');
    const table = readTable(store);
    expect(table.chunk.bytes).toBe(expected.chunkBytes);
    expect(table.valid).toBe(true);
    const olds = table.exceptions.map((e) => Number(e.oldChunk)).sort((a, b) => a - b);
    expect(olds).toEqual(expected.exceptions.map((e) => e.oldChunk));
    const want = new Map(expected.exceptions.map((e) => [e.oldChunk, e.sha256]));
    const wrong: string[] = [];
    for (const e of table.exceptions) {
      const at = Number(e.newChunk) * expected.chunkBytes;
      const got = sha(cow.subarray(at, at + expected.chunkBytes));
      if (got !== want.get(Number(e.oldChunk))) wrong.push(`old ${e.oldChunk} new ${e.newChunk}`);
    }
    expect(wrong).toEqual([]);
  });

  test("our usage figures equal the kernel's status line", () => {
    const table = readTable(new MemoryIo(Buffer.from(cow), 'cow'));
    const status = parseSnapshotStatus(expected.status.split(' snapshot ')[1] ?? '');
    if (status.state !== 'active') throw new Error(`fixture status is ${status.state}`);
    const chunkSectors = expected.chunkBytes / 512;
    expect(Number(table.nextFree) * chunkSectors).toBe(Number(status.allocated));
    // persistent_usage: metadata = (current_area + 1 + header) chunks.
    expect((table.areasRead + 1) * chunkSectors).toBe(Number(status.metadata));
    expect(status.total).toBe(expected.cowBytes / 512);
    const report = inspectStore(new MemoryIo(Buffer.from(cow), 'cow'));
    expect(report.exceptions).toBe(expected.exceptions.length);
    expect(report.chunkBytes).toBe(expected.chunkBytes);
    expect({ ...report.usage }).toEqual({ allocated: status.allocated, total: status.total, metadata: status.metadata });
    expect(report.originBytesChanged).toBe(expected.exceptions.length * expected.chunkBytes);
  });

  test('our export equals the snapshot view the kernel showed, and reads its inputs only', () => {
    const o = new MemoryIo(Buffer.from(origin), 'origin');
    const s = new MemoryIo(Buffer.from(cow), 'cow');
    const out = MemoryIo.zeroed(bytes(origin.length), 'out');
    exportView(o, s, out);
    expect(sha(out.data)).toBe(expected.snapshotViewSha256);
    expect(sha(o.data)).toBe(expected.originAfterSha256);
    expect(s.data.equals(cow)).toBe(true);
  });

  test('our offline merge turns the origin into the snapshot view', () => {
    const o = new MemoryIo(Buffer.from(origin), 'origin');
    const s = new MemoryIo(Buffer.from(cow), 'cow');
    const summary = mergeOffline(o, s);
    expect(summary.outcome).toBe('merged');
    expect(summary.chunks).toBe(expected.exceptions.length);
    expect(sha(o.data)).toBe(expected.snapshotViewSha256);
  });
});
