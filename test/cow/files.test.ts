import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bytes } from '../../src/units/units.js';
import { FileIo } from '../../src/blockio/file-io.js';
import { MemoryIo } from '../../src/blockio/index.js';
import { MappedIo } from '../../src/blockio/mapped-io.js';
import { readTable } from '../../src/cow/exception-table.js';
import { mergeOffline } from '../../src/cow/merge.js';
import { exportView } from '../../src/cow/export.js';
import { inspectStore } from '../../src/cow/inspect.js';
import { buildStore, pattern, referenceMerge, sha } from './helpers.js';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cow-files-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const olds = [0, 1, 2, 700, 9, 1023];

function images(): { originPath: string; storePath: string; originBytes: Buffer } {
  const originPath = path.join(dir, `origin-${Math.random()}`);
  const storePath = path.join(dir, `store-${Math.random()}`);
  const originBytes = pattern(1024 * 4096, 5);
  fs.writeFileSync(originPath, originBytes);
  fs.writeFileSync(storePath, buildStore(olds).store.data);
  return { originPath, storePath, originBytes };
}

describe('image files', () => {
  it('merges one image into another through FileIo', () => {
    const { originPath, storePath, originBytes } = images();
    const o = FileIo.open(originPath, { writable: true });
    const s = FileIo.open(storePath, { writable: true });
    const summary = mergeOffline(o, s, { verify: true });
    o.close();
    s.close();
    expect(summary).toMatchObject({ outcome: 'merged', chunks: 6, verified: true });
    expect(fs.readFileSync(originPath).equals(referenceMerge(originBytes, olds, 4096))).toBe(true);
  });

  it('exports the snapshot view, changing neither input', () => {
    const { originPath, storePath, originBytes } = images();
    const before = [sha(fs.readFileSync(originPath)), sha(fs.readFileSync(storePath))];
    const o = FileIo.open(originPath);
    const s = FileIo.open(storePath);
    const outPath = path.join(dir, `view-${Math.random()}`);
    const out = FileIo.create(outPath, o.size);
    const summary = exportView(o, s, out);
    [o, s, out].forEach((io) => io.close());
    expect(summary.exceptions).toBe(6);
    expect(fs.readFileSync(outPath).equals(referenceMerge(originBytes, olds, 4096))).toBe(true);
    expect([sha(fs.readFileSync(originPath)), sha(fs.readFileSync(storePath))]).toEqual(before);
    expect(() => FileIo.create(outPath, o.size)).toThrow(/EEXIST/);
  });

  it('refuses to write through a read-only FileIo', () => {
    const { originPath, storePath } = images();
    const o = FileIo.open(originPath);
    const s = FileIo.open(storePath);
    expect(() => mergeOffline(o, s)).toThrow(/EBADF/);
    o.close();
    s.close();
  });

  it('inspects like dmsetup status would report', () => {
    const r = inspectStore(new MemoryIo(buildStore(olds).store.data), { exceptions: true });
    expect(r).toMatchObject({ chunkBytes: 4096, valid: true, exceptions: 6, areasUsed: 1, originBytesChanged: 6 * 4096 });
    // next_free = chunk 8 (header, area 0, 6 data chunks): 64 sectors; metadata = 2 chunks.
    expect(r.usage).toMatchObject({ allocated: 64, metadata: 16 });
    expect(r.list?.length).toBe(6);
  });
});

describe('MappedIo', () => {
  it('reads a store scattered over a device through its extent map', () => {
    const { store } = buildStore(Array.from({ length: 300 }, (_, i) => i * 2));
    const size = store.size;
    // Cut the store into uneven pieces and lay them out backwards on a device.
    const cuts = [0, 4096 * 3, 4096 * 3 + 512, 4096 * 200, size];
    const device = MemoryIo.zeroed(bytes(size + 10 * 4096), 'device');
    const extents = [];
    let phys = device.size as number;
    for (let i = 0; i + 1 < cuts.length; i++) {
      const len = cuts[i + 1]! - cuts[i]!;
      phys -= len + 4096;
      store.data.copy(device.data, phys, cuts[i], cuts[i + 1]);
      extents.push({ start: bytes(cuts[i]!), offset: bytes(phys), length: bytes(len) });
    }
    const mapped = new MappedIo(device, extents);
    expect(mapped.size).toBe(size);
    expect(mapped.read(bytes(0), size).equals(store.data)).toBe(true);
    expect(readTable(mapped).exceptions).toEqual(readTable(store).exceptions);
    mapped.write(bytes(4096 * 3 - 10), Buffer.alloc(600, 0xab));
    expect(mapped.read(bytes(4096 * 3 - 10), bytes(600)).equals(Buffer.alloc(600, 0xab))).toBe(true);
  });

  it('refuses a map with a gap or one beyond the device', () => {
    const device = MemoryIo.zeroed(bytes(8192), 'dev');
    expect(() => new MappedIo(device, [{ start: bytes(4096), offset: bytes(0), length: bytes(4096) }])).toThrow(/gap at store byte 0/);
    expect(() => new MappedIo(device, [{ start: bytes(0), offset: bytes(4096), length: bytes(8192) }])).toThrow(/beyond the end of dev/);
  });
});

describe('block device', () => {
  it('merges from a store on a loop device into an origin on another', async () => {
    const { execFileSync } = await import('node:child_process');
    const { originPath, storePath, originBytes } = images();
    const attach = (f: string): string => execFileSync('losetup', ['-f', '--show', f], { encoding: 'utf8' }).trim();
    const originDev = attach(originPath);
    const storeDev = attach(storePath);
    try {
      const o = FileIo.open(originDev, { writable: true });
      const s = FileIo.open(storeDev, { writable: true });
      expect(o.size).toBe(originBytes.length); // BLKGETSIZE64, not st_size (0 for a device)
      expect(mergeOffline(o, s).chunks).toBe(6);
      o.close();
      s.close();
    } finally {
      execFileSync('losetup', ['-d', originDev]);
      execFileSync('losetup', ['-d', storeDev]);
    }
    expect(fs.readFileSync(originPath).equals(referenceMerge(originBytes, olds, 4096))).toBe(true);
  });
});
