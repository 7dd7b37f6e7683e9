// The kernel as the oracle of our offline merge (runs in the VM; host side: cow.test.ts).
// For each case the kernel builds an origin and a store (dmsetup; the snapshot is created
// before the origin, docs/design.md "Order of loading"), both are torn down and copied to images in
// /tmp; the kernel's snapshot-merge runs on the disks (copy A), our offline merge on the images
// (copy B); the two origins must be byte-identical, and equal to the snapshot's view that the
// kernel showed before the merge.
//   checkpoint-like: ext4 on the origin, changed through snapshot-origin (files rewritten,
//     deleted, added: multi-chunk writes from a real filesystem) plus 1 MiB direct writes;
//     4 KiB chunks; our merge driven in-process.
//   update-like: direct writes through the snapshot device (1 MiB and 4 KiB, 4 KiB aligned,
//     so partial 16 KiB chunks), 16 KiB chunks; our merge through the CLI (node bin/snapstore).
//   hand-over: a merge interrupted by one side is finished by the other (src/cow/README.md:
//     "a store half-merged by us is also one the kernel's snapshot-merge can finish, and vice
//     versa"): ours stopped by an injected flush error, then the kernel's; the kernel's
//     stopped mid-merge (suspended and removed; its origin behind dm-delay so that the merge
//     is slow enough to catch), then ours (on loop devices over image copies). Scattered
//     4 KiB exceptions: the kernel merges runs of consecutive chunks in one step, so a store
//     of 1 MiB runs would merge before anyone could stop it.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, test } from 'vitest';
import { guestDisk, loadModule, requireGuest, run } from '../vm/guest.js';
import { FileIo } from '../../src/blockio/file-io.js';
import { FaultyIo } from '../../src/blockio/index.js';
import { bytes } from '../../src/units/units.js';
import { mergeOffline } from '../../src/cow/merge.js';
import { readTable } from '../../src/cow/exception-table.js';
import { copyDevice, directWrite, seeded, shaOf, sizeOf, snapshotUsage, waitMergeDone, zeroStart } from './cow-helpers.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';
const MiB = 1 << 20;
const made: string[] = [];
const mounts: string[] = [];

const dmsetup = (...args: string[]): string => run('dmsetup', args);
function create(name: string, table: string): void {
  dmsetup('create', name, '--table', table);
  made.push(name);
}
function remove(name: string): void {
  dmsetup('remove', name);
  made.splice(made.indexOf(name), 1);
}
function mount(dev: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  run('mount', ['-t', 'ext4', dev, dir]);
  mounts.push(dir);
}
function umount(dir: string): void {
  run('umount', [dir]);
  mounts.splice(mounts.indexOf(dir), 1);
}

afterAll(() => {
  for (const dir of mounts.reverse()) execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
  for (const name of made.reverse()) execFileSync('dmsetup', ['remove', '-f', name], { stdio: 'ignore' });
});

interface Built {
  origin: string;
  cow: string;
  chunkSectors: number;
  /** sha256 of /dev/mapper/<snap> read just before tear-down: what a rollback must give. */
  viewSha: string;
  exceptions: number;
}

/**
 * Kernel merge on the disks, ours on copies: returns both results' hashes. `ours` runs the
 * offline merge on the image copies.
 */
async function mergeBothWays(b: Built, tag: string, ours: (origin: string, cow: string) => void) {
  const imgOrigin = `/tmp/${tag}-origin.img`;
  const imgCow = `/tmp/${tag}-cow.img`;
  copyDevice(b.origin, imgOrigin);
  copyDevice(b.cow, imgCow);
  expect(shaOf(imgOrigin)).toBe(shaOf(b.origin));

  const sectors = sizeOf(b.origin) / 512;
  const name = `${tag}-merge`;
  let t = performance.now();
  create(name, `0 ${sectors} snapshot-merge ${b.origin} ${b.cow} P ${b.chunkSectors}`);
  await waitMergeDone(name);
  remove(name);
  const kernelMs = performance.now() - t;

  t = performance.now();
  ours(imgOrigin, imgCow);
  const oursMs = performance.now() - t;
  console.log(`${tag}: ${b.exceptions} exceptions of ${b.chunkSectors * 512} B: kernel snapshot-merge ${kernelMs.toFixed(0)} ms, ours ${oursMs.toFixed(0)} ms`);

  // Both stores end with an empty table, each readable by our reader.
  const kernelStore = FileIo.open(b.cow);
  const ourStore = FileIo.open(imgCow);
  try {
    expect(readTable(kernelStore).exceptions).toHaveLength(0);
    expect(readTable(ourStore).exceptions).toHaveLength(0);
  } finally {
    kernelStore.close();
    ourStore.close();
  }
  const result = { kernel: shaOf(b.origin), ours: shaOf(imgOrigin), imgOrigin };
  rmSync(imgCow);
  return result;
}

describe('checkpoint-like: ext4 changed through snapshot-origin, 4 KiB chunks', () => {
  const origin = guestDisk('cp-origin');
  const cow = guestDisk('cp-cow');
  let built: Built;
  let preSha: string;

  test('the kernel records the changes of a mounted ext4 (multi-chunk writes all copied)', () => {
    run('mkfs.ext4', ['-q', '-F', '-b', '4096', '-E', 'lazy_itable_init=0,lazy_journal_init=0', origin]);
    const dir = '/tmp/cp-mnt';
    mount(origin, dir);
    for (let i = 0; i < 24; i++) writeFileSync(join(dir, `f${i}`), randomBytes((1 + ((i * 37) % 24)) * 64 * 1024));
    umount(dir);
    preSha = shaOf(origin);

    zeroStart(cow, 64 * 1024);
    const sectors = sizeOf(origin) / 512;
    create('cp-snap', `0 ${sectors} snapshot ${origin} ${cow} P 8`);
    create('cp-origin', `0 ${sectors} snapshot-origin ${origin}`);
    mount('/dev/mapper/cp-origin', dir);
    for (let i = 0; i < 24; i += 3) unlinkSync(join(dir, `f${i}`));
    for (let i = 1; i < 24; i += 3) {
      // Rewrite in place: the same blocks, new contents.
      const size = statSync(join(dir, `f${i}`)).size;
      const fd = openSync(join(dir, `f${i}`), 'r+');
      writeSync(fd, randomBytes(size), 0, size, 0);
      closeSync(fd);
    }
    for (let i = 0; i < 6; i++) writeFileSync(join(dir, `new${i}`), randomBytes(2 * MiB));
    umount(dir);
    const rand = seeded(11);
    for (let i = 0; i < 4; i++) directWrite('/dev/mapper/cp-origin', Math.floor(rand() * (sectors / 8 - 256)) * 4096, randomBytes(MiB));
    run('sync');

    const u = snapshotUsage('cp-snap');
    const exceptions = (u.allocated - u.metadata) / 8;
    // Six new 2 MiB files alone are 3,072 chunks; a snapshot-origin resumed too early would
    // copy only the first chunk of each large write (docs/design.md).
    expect(exceptions).toBeGreaterThan(3_500);
    const viewSha = shaOf('/dev/mapper/cp-snap');
    expect(viewSha).toBe(preSha);
    expect(shaOf(origin)).not.toBe(preSha);
    remove('cp-origin');
    remove('cp-snap');
    built = { origin, cow, chunkSectors: 8, viewSha, exceptions };
  });

  test('our offline merge (in-process) gives the origin the kernel snapshot-merge gives, byte for byte', async () => {
    expect(built).toBeDefined();
    const r = await mergeBothWays(built, 'cp', (o, c) => {
      const origin = FileIo.open(o, { writable: true });
      const store = FileIo.open(c, { writable: true });
      try {
        const s = mergeOffline(origin, store);
        expect(s.outcome).toBe('merged');
        expect(s.chunks).toBe(built.exceptions);
      } finally {
        origin.close();
        store.close();
      }
    });
    expect(r.ours).toBe(r.kernel);
    expect(r.kernel).toBe(built.viewSha);
    run('fsck.ext4', ['-fn', r.imgOrigin]);
    rmSync(r.imgOrigin);
  });
});

describe('update-like: direct writes through the snapshot, 16 KiB chunks', () => {
  const origin = guestDisk('up-origin');
  const cow = guestDisk('up-cow');
  let built: Built;

  test('the kernel records writes through the snapshot, partial chunks included', () => {
    const size = sizeOf(origin);
    const fd = openSync(origin, 'r+');
    for (let at = 0; at < size; at += 8 * MiB) writeSync(fd, randomBytes(8 * MiB), 0, 8 * MiB, at);
    closeSync(fd);
    const preSha = shaOf(origin);
    zeroStart(cow, 64 * 1024);
    const sectors = size / 512;
    create('up-snap', `0 ${sectors} snapshot ${origin} ${cow} P 32`);
    const rand = seeded(22);
    const blocks = size / 4096;
    for (let i = 0; i < 8; i++) directWrite('/dev/mapper/up-snap', Math.floor(rand() * (blocks - 256)) * 4096, randomBytes(MiB));
    for (let i = 0; i < 40; i++) directWrite('/dev/mapper/up-snap', Math.floor(rand() * blocks) * 4096, randomBytes(4096));
    run('sync');
    const u = snapshotUsage('up-snap');
    const exceptions = (u.allocated - u.metadata) / 32;
    expect(exceptions).toBeGreaterThan(8 * 64);
    const viewSha = shaOf('/dev/mapper/up-snap');
    expect(viewSha).not.toBe(preSha);
    expect(shaOf(origin)).toBe(preSha);
    remove('up-snap');
    built = { origin, cow, chunkSectors: 32, viewSha, exceptions };
  });

  test('snapstore merge --offline (the CLI) gives the origin the kernel snapshot-merge gives, byte for byte', async () => {
    expect(built).toBeDefined();
    let out = '';
    const r = await mergeBothWays(built, 'up', (o, c) => {
      out = run('node', ['bin/snapstore', 'merge', '--offline', '--origin', o, '--cow', c]);
    });
    expect(out).toMatch(new RegExp(`\\b${built.exceptions}\\b`));
    expect(r.ours).toBe(r.kernel);
    expect(r.kernel).toBe(built.viewSha);
    rmSync(r.imgOrigin);
    expect(readdirSync('/tmp').filter((f) => f.startsWith('up-'))).toEqual([]);
  });
});


describe('hand-over: a merge interrupted by one side is finished by the other', () => {
  const origin = guestDisk('ho-origin');
  const cow = guestDisk('ho-cow');
  let viewSha = '';
  let exceptions = 0;
  const imgOrigin = '/tmp/ho-origin.img';
  const imgCow = '/tmp/ho-cow.img';
  const loops: string[] = [];
  afterAll(() => {
    for (const l of loops) execFileSync('losetup', ['-d', l], { stdio: 'ignore' });
  });

  test('the kernel records scattered 4 KiB writes and 1 MiB direct writes through a 4 KiB-chunk snapshot', () => {
    const size = sizeOf(origin);
    const fd = openSync(origin, 'r+');
    for (let at = 0; at < size; at += 8 * MiB) writeSync(fd, randomBytes(8 * MiB), 0, 8 * MiB, at);
    closeSync(fd);
    zeroStart(cow, 64 * 1024);
    const sectors = size / 512;
    create('ho-snap', `0 ${sectors} snapshot ${origin} ${cow} P 8`);
    const rand = seeded(44);
    const blocks = size / 4096;
    for (let i = 0; i < 2; i++) directWrite('/dev/mapper/ho-snap', Math.floor(rand() * (blocks - 256)) * 4096, randomBytes(MiB));
    // Every other block of a random set: no two neighbours, one exception each.
    const sfd = openSync('/dev/mapper/ho-snap', 'r+');
    const block = randomBytes(4096);
    for (let i = 0; i < 1500; i++) writeSync(sfd, block, 0, 4096, Math.floor(rand() * (blocks / 2)) * 2 * 4096);
    fsyncSync(sfd);
    closeSync(sfd);
    const u = snapshotUsage('ho-snap');
    exceptions = (u.allocated - u.metadata) / 8;
    expect(exceptions).toBeGreaterThan(1_500);
    viewSha = shaOf('/dev/mapper/ho-snap');
    remove('ho-snap');
    copyDevice(origin, imgOrigin);
    copyDevice(cow, imgCow);
  });

  test('ours stopped by a failed origin flush, then the kernel snapshot-merge finishes: the origin is the view', async () => {
    expect(exceptions).toBeGreaterThan(0);
    const o = FileIo.open(origin, { writable: true });
    const s = FileIo.open(cow, { writable: true });
    try {
      // 1 MiB batches (256 exceptions); the 3rd origin flush fails: 2 batches are consumed.
      expect(() => mergeOffline(new FaultyIo(o, { op: 'flush', nth: 3 }), s, { batchBytes: bytes(MiB) })).toThrow(/flush/);
      expect(readTable(s).exceptions).toHaveLength(exceptions - 2 * 256);
    } finally {
      o.close();
      s.close();
    }
    const sectors = sizeOf(origin) / 512;
    create('ho-merge', `0 ${sectors} snapshot-merge ${origin} ${cow} P 8`);
    await waitMergeDone('ho-merge');
    remove('ho-merge');
    expect(shaOf(origin)).toBe(viewSha);
    const s2 = FileIo.open(cow);
    try {
      expect(readTable(s2).exceptions).toHaveLength(0);
    } finally {
      s2.close();
    }
  });

  test('the kernel snapshot-merge stopped midway, then ours finishes: the origin is the view', async () => {
    loadModule('dm-delay');
    const lo = run('losetup', ['-f', '--show', imgOrigin]).trim();
    loops.push(lo);
    const lc = run('losetup', ['-f', '--show', imgCow]).trim();
    loops.push(lc);
    const sectors = sizeOf(lo) / 512;
    // Writes to the origin wait 10 ms: one merge step (one chunk here) takes at least that.
    create('ho-slow', `0 ${sectors} delay ${lo} 0 0 ${lo} 0 10`);
    create('ho-merge2', `0 ${sectors} snapshot-merge /dev/mapper/ho-slow ${lc} P 8`);
    const start = Date.now();
    let left = exceptions;
    while (left > exceptions - 64 && Date.now() - start < 120_000) {
      await new Promise((r) => setTimeout(r, 20));
      const u = snapshotUsage('ho-merge2');
      left = (u.allocated - u.metadata) / 8;
    }
    dmsetup('suspend', 'ho-merge2');
    remove('ho-merge2');
    remove('ho-slow');
    for (const l of loops.splice(0)) run('losetup', ['-d', l]);
    const o = FileIo.open(imgOrigin, { writable: true });
    const s = FileIo.open(imgCow, { writable: true });
    try {
      const remaining = readTable(s).exceptions.length;
      console.log(`hand-over: the kernel stopped with ${remaining} of ${exceptions} exceptions left (status said ${left})`);
      // Stopped part-way: some merged, some left for us.
      expect(remaining).toBeGreaterThan(0);
      expect(remaining).toBeLessThan(exceptions);
      const summary = mergeOffline(o, s);
      expect(summary.outcome).toBe('merged');
      expect(summary.chunks).toBe(remaining);
    } finally {
      o.close();
      s.close();
    }
    expect(shaOf(imgOrigin)).toBe(viewSha);
    rmSync(imgOrigin);
    rmSync(imgCow);
  });
});
