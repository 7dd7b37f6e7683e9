// Guest side of the store suite (host side: store.test.ts): `store attach`
// on a filesystem over a dm device of two linear segments in swapped order
// (translation and splitting), directly on a disk (loop fallback), and on a
// dm device that is not linear (refused). dmsetup and filefrag are the oracles.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { attachStore, detachStore } from '../../src/store/attach.js';
import { createStore } from '../../src/store/create.js';
import { deleteStore } from '../../src/store/delete.js';
import { fallocate, punchHole } from '../../src/linux/fs.js';
import { bytes, chunkSize, parseSize } from '../../src/units/units.js';
import { guestDisk, requireGuest, run } from '../vm/guest.js';
import { expectValid } from '../support/json-schema.js';

requireGuest();

const SECTOR = 512;
const chunk = chunkSize(bytes(4096));

/** Allocates what is free, then punches a 4 KiB hole every `stride` bytes: a store made next is scattered. */
function comb(mountpoint: string, stride: number): number {
  const file = path.join(mountpoint, 'comb');
  const st = fs.statfsSync(mountpoint);
  let size = st.bavail * st.bsize - (4 << 20);
  size -= size % stride;
  const fd = fs.openSync(file, 'w');
  try {
    fallocate(fd, file, bytes(0), bytes(size));
    for (let at = 0; at < size; at += stride) punchHole(fd, file, bytes(at), bytes(4096));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return (size / stride) * 4096;
}

/** Reads what reached the device: call `flush(dev)` first to drop its page cache. */
function flush(dev: string): void {
  run('blockdev', ['--flushbufs', dev]);
}

function readAt(dev: string, offset: number, length: number): Buffer {
  const fd = fs.openSync(dev, 'r');
  try {
    const buf = Buffer.alloc(length);
    expect(fs.readSync(fd, buf, 0, length, offset)).toBe(length);
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}

function writeAt(dev: string, offset: number, data: Buffer): void {
  const fd = fs.openSync(dev, 'r+');
  try {
    expect(fs.writeSync(fd, data, 0, data.length, offset)).toBe(data.length);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

interface Line {
  start: number;
  length: number;
  dev: string;
  offset: number;
}

const parseLines = (text: string): Line[] =>
  text
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .map(([start, length, , dev, offset]) => ({ start: Number(start), length: Number(length), dev: dev!, offset: Number(offset) }));

/**
 * filefrag's extents (512-byte units), coalesced, aligned to the chunk and
 * translated by hand through D's table, coalesced again: the expected COW table.
 */
function expectedTable(file: string, dTable: Line[], chunkSectors: number): Line[] {
  const extents: { logical: number; physical: number; length: number }[] = [];
  for (const line of run('filefrag', ['-v', '-b512', file]).split('\n')) {
    const m = /^\s*\d+:\s+(\d+)\.\.\s*\d+:\s+(\d+)\.\.\s*\d+:\s+(\d+):/.exec(line);
    if (!m) continue;
    const e = { logical: Number(m[1]), physical: Number(m[2]), length: Number(m[3]) };
    const prev = extents[extents.length - 1];
    if (prev && prev.logical + prev.length === e.logical && prev.physical + prev.length === e.physical) prev.length += e.length;
    else extents.push(e);
  }
  const out: Line[] = [];
  let store = 0;
  for (const e of extents) {
    const head = (chunkSectors - (e.physical % chunkSectors)) % chunkSectors;
    let p = e.physical + head;
    let len = Math.max(0, e.length - head);
    len -= len % chunkSectors;
    while (len > 0) {
      const d = dTable.find((t) => p >= t.start && p < t.start + t.length)!;
      const n = Math.min(len, d.start + d.length - p);
      const piece = { start: store, length: n, dev: d.dev, offset: d.offset + (p - d.start) };
      const prev = out[out.length - 1];
      if (prev && prev.dev === piece.dev && prev.offset + prev.length === piece.offset) prev.length += n;
      else out.push(piece);
      store += n;
      p += n;
      len -= n;
    }
  }
  return out;
}

for (const [index, type] of (['ext4', 'xfs'] as const).entries()) {
  describe(`attach on ${type} over a dm device of two swapped linear segments`, () => {
    const disk = guestDisk('data');
    const regionSectors = (320 << 20) / SECTOR;
    const base = index * regionSectors;
    // Not 4 KiB-aligned on purpose: an extent across it must be split.
    const half = regionSectors / 2 + 4;
    const dName = `data-${type}`;
    const mnt = `/tmp/mnt-${type}`;
    const stateDir = `/tmp/state-${type}`;
    const name = `att-${type}`;
    let storeFile: string;

    beforeAll(async () => {
      run('dmsetup', [
        'create',
        dName,
        '--table',
        `0 ${half} linear ${disk} ${base + regionSectors - half}\n${half} ${regionSectors - half} linear ${disk} ${base}`,
      ]);
      // ext4: no blocks reserved for root (root's fallocate would take them in one piece).
      run(`mkfs.${type}`, type === 'ext4' ? ['-q', '-F', '-m', '0', '-b', '4096', `/dev/mapper/${dName}`] : ['-q', '-f', '-m', 'reflink=0,rmapbt=0', `/dev/mapper/${dName}`]);
      fs.mkdirSync(mnt, { recursive: true });
      run('mount', [`/dev/mapper/${dName}`, mnt]);
      if (type === 'xfs') run('xfs_io', ['-x', '-c', 'resblks 0', mnt]);
      fs.mkdirSync(path.join(mnt, 'stores'), { mode: 0o700 });
      const holes = comb(mnt, 64 << 10);
      storeFile = path.join(mnt, 'stores', 'store');
      // More than the first half's holes can hold: the store lies on both segments of D.
      const size = Math.floor((holes * 0.7) / (1 << 20)) << 20;
      await createStore({ name, file: storeFile, size: bytes(size), chunk, stateDir });
    });

    afterAll(async () => {
      run('sh', ['-c', `dmsetup remove snapstore-${name}-cow 2>/dev/null; umount ${mnt}; dmsetup remove ${dName}; true`]);
    });

    let cowLines: Line[];
    test('the COW table equals filefrag\'s map translated by hand through D\'s table', async () => {
      const r = await attachStore({ stateDir, name });
      expect(r.via).toBe('linear-translation');
      expect(fs.statSync(r.device).isBlockDevice()).toBe(true);
      const dTable = parseLines(run('dmsetup', ['table', dName]));
      cowLines = parseLines(run('dmsetup', ['table', r.dmName]));
      expect(cowLines).toEqual(expectedTable(storeFile, dTable, chunk.sectors));
      // It really is spread over both segments of D, i.e. both places on the disk.
      const lowHalf = cowLines.filter((l) => l.offset >= base + regionSectors - half);
      expect(lowHalf.length).toBeGreaterThan(0);
      expect(lowHalf.length).toBeLessThan(cowLines.length);
      expect(cowLines.length).toBeGreaterThan(100);
    });

    test('data written through the COW device lands at the mapped places on the disk, and back', () => {
      const cow = `/dev/mapper/snapstore-${name}-cow`;
      const total = cowLines.reduce((s, l) => s + l.length, 0) * SECTOR;
      const data = randomBytes(total);
      writeAt(cow, 0, data);
      flush(disk);
      for (const l of cowLines) {
        expect(readAt(disk, l.offset * SECTOR, l.length * SECTOR).equals(data.subarray(l.start * SECTOR, (l.start + l.length) * SECTOR))).toBe(true);
      }
      // And the other way: raw writes to the disk show through the COW device.
      const probe = cowLines[Math.floor(cowLines.length / 2)]!;
      const raw = randomBytes(probe.length * SECTOR);
      writeAt(disk, probe.offset * SECTOR, raw);
      flush(cow);
      expect(readAt(cow, probe.start * SECTOR, raw.length).equals(raw)).toBe(true);
    });

    test('a second attach is refused; detach removes the device; delete then works', async () => {
      await expect(attachStore({ stateDir, name })).rejects.toThrow(/already attached/);
      await expect(deleteStore({ stateDir, name: name })).rejects.toThrow(/in use by dm device snapstore-/);
      const d = await detachStore({ stateDir, name });
      expect(d.detached).toBe(true);
      expect(run('dmsetup', ['ls'])).not.toContain(`snapstore-${name}-cow`);
      expect(run('lsattr', [storeFile])).toMatch(/^\S*i/);
      await deleteStore({ stateDir, name: name });
      expect(fs.existsSync(storeFile)).toBe(false);
    });
  });
}

describe('attach on a filesystem directly on a disk', () => {
  const disk = guestDisk('plain');
  const mnt = '/tmp/mnt-plain';
  const stateDir = '/tmp/state-plain';
  const name = 'plain';
  let storeFile: string;
  beforeAll(async () => {
    run('mkfs.ext4', ['-q', '-F', disk]);
    fs.mkdirSync(mnt, { recursive: true });
    run('mount', [disk, mnt]);
    fs.mkdirSync(path.join(mnt, 'stores'), { mode: 0o700 });
    storeFile = path.join(mnt, 'stores', 'store');
    await createStore({ name, file: storeFile, size: parseSize('16M'), chunk, stateDir });
  });
  afterAll(() => {
    run('sh', ['-c', `dmsetup remove snapstore-${name}-cow 2>/dev/null; losetup -D; umount ${mnt}; true`]);
  });

  test('--no-fallback explains EBUSY and changes nothing', async () => {
    await expect(attachStore({ stateDir, name, noFallback: true })).rejects.toThrow(
      new RegExp(`${disk}, which is mounted at ${mnt} directly .*EBUSY`),
    );
    expect(run('dmsetup', ['ls'])).not.toContain(`snapstore-${name}`);
    expect(run('losetup', ['-a'])).toBe('');
    expect(run('lsattr', [storeFile])).toMatch(/^\S*i/);
  });

  test('falls back to a loop device over the file, says so, and data goes through the file', async () => {
    const r = await attachStore({ stateDir, name });
    expect(r.via).toBe('loop');
    expect(r.notes.join('\n')).toMatch(/cannot stay immutable while looped/);
    expect(run('losetup', ['-a'])).toContain(storeFile);
    expect(run('lsattr', [storeFile])).not.toMatch(/^\S*i/);
    const cow = r.device;
    const data = randomBytes(1 << 20);
    writeAt(cow, 64 << 10, data);
    // The store's offset 64 KiB is the file's offset per the manifest's first segment(s).
    const lines = parseLines(run('dmsetup', ['table', r.dmName]));
    const l = lines.find((x) => x.start * SECTOR <= 64 << 10 && (x.start + x.length) * SECTOR > 64 << 10)!;
    const fileOffset = l.offset * SECTOR + ((64 << 10) - l.start * SECTOR);
    const fd = fs.openSync(storeFile, 'r');
    const back = Buffer.alloc(4096);
    run('sh', ['-c', 'echo 3 > /proc/sys/vm/drop_caches']);
    fs.readSync(fd, back, 0, 4096, fileOffset);
    fs.closeSync(fd);
    expect(back.equals(data.subarray(0, 4096))).toBe(true);
    const d = await detachStore({ stateDir, name });
    expect(d.loopsDetached).toHaveLength(1);
    expect(run('losetup', ['-a'])).toBe('');
    expect(run('lsattr', [storeFile])).toMatch(/^\S*i/);
  });

  test('an attach that stopped half-way (its recorded loop left over the file) is refused until detach cleans it up', async () => {
    const file = storeFile;
    run('chattr', ['-i', file]);
    // What an attach killed after losetup leaves: its record, and the loop it names.
    const loop = run('losetup', ['--find']).trim();
    const record = path.join(stateDir, 'stores', `${name}.loop`);
    fs.writeFileSync(record, JSON.stringify({ version: 1, op: 'loop', name, startedAt: new Date().toISOString(), data: { device: loop } }), { mode: 0o600 });
    run('losetup', [loop, file]);
    await expect(attachStore({ stateDir, name })).rejects.toThrow(new RegExp(`has a loop device recorded \\(${loop}\\).*`));
    const d = await detachStore({ stateDir, name });
    expect(d.loopsDetached).toEqual([loop]);
    expect(fs.existsSync(record)).toBe(false);
    expect(run('lsattr', [file])).toMatch(/^\S*i/);
    const r = await attachStore({ stateDir, name });
    expect(r.via).toBe('loop');
    await detachStore({ stateDir, name });
  });

  test("a loop device the user made over the store file is refused by attach and left alone by detach", async () => {
    const file = storeFile;
    run('chattr', ['-i', file]);
    const loop = run('losetup', ['--find', '--show', '--read-only', file]).trim();
    try {
      await expect(attachStore({ stateDir, name })).rejects.toThrow(new RegExp(`a loop device over its file that snapstore did not make \\(${loop}\\)`));
      const d = await detachStore({ stateDir, name });
      expect(d.loopsDetached).toEqual([]);
      expect(d.othersLoops).toEqual([loop]);
      expect(run('losetup', ['-a'])).toContain(file);
    } finally {
      run('losetup', ['-d', loop]);
      run('chattr', ['+i', file]);
    }
  });

  test('the CLI attaches and detaches with --json, each output as its schema says', () => {
    const out = JSON.parse(run('node', ['bin/snapstore', 'store', 'attach', name, '--state-dir', stateDir, '--json']));
    expectValid('store-attach', out);
    expect(out.device).toBe(`/dev/mapper/snapstore-${name}-cow`);
    expect(out.via).toBe('loop');
    const d = JSON.parse(run('node', ['bin/snapstore', 'store', 'detach', name, '--state-dir', stateDir, '--json']));
    expectValid('store-detach', d);
    expect(d.detached).toBe(true);
  });
});

describe('attach on a dm device that is not linear', () => {
  const disk = guestDisk('plain2');
  const mnt = '/tmp/mnt-striped';
  const stateDir = '/tmp/state-striped';
  beforeAll(async () => {
    const size = Number(run('blockdev', ['--getsz', disk]).trim());
    run('dmsetup', ['create', 'striped1', '--table', `0 ${size - (size % 128)} striped 1 128 ${disk} 0`]);
    run('mkfs.ext4', ['-q', '-F', '/dev/mapper/striped1']);
    fs.mkdirSync(mnt, { recursive: true });
    run('mount', ['/dev/mapper/striped1', mnt]);
    fs.mkdirSync(path.join(mnt, 'stores'), { mode: 0o700 });
    await createStore({ name: 'str', file: path.join(mnt, 'stores', 's'), size: parseSize('8M'), chunk, stateDir });
  });
  afterAll(() => {
    run('sh', ['-c', `umount ${mnt}; dmsetup remove striped1; true`]);
  });

  test('is refused, naming the target type, and nothing is created', async () => {
    await expect(attachStore({ stateDir, name: 'str' })).rejects.toThrow(/striped1 .*has a striped target/);
    expect(run('dmsetup', ['ls'])).not.toContain('snapstore-str');
    expect(run('lsattr', [path.join(mnt, 'stores', 's')])).toMatch(/^\S*i/);
  });
});
