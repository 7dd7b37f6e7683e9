// Guest side of the smoke suite (runs in the VM; host side: smoke.test.ts): the bed has a
// working device-mapper with the targets snapstore needs, and ext4/xfs/loop.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { guestDisk, requireGuest, run } from '../vm/guest.js';

requireGuest();

const SECTOR = 512;

function writeAt(path: string, offset: number, data: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    expect(writeSync(fd, data, 0, data.length, offset)).toBe(data.length);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function readAt(path: string, offset: number, length: number): Buffer {
  // Drop the page cache of that device first: we want what reached the disk.
  run('blockdev', ['--flushbufs', path]);
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    expect(readSync(fd, buf, 0, length, offset)).toBe(length);
    return buf;
  } finally {
    closeSync(fd);
  }
}

describe('device-mapper', () => {
  test('the disks are attached in order, named by their serial', () => {
    expect(guestDisk('linear')).toBe('/dev/vda');
    expect(guestDisk('mkfs')).toBe('/dev/vdb');
  });

  test('dmsetup version reaches the kernel driver', () => {
    const out = run('dmsetup', ['version']);
    expect(out).toMatch(/Driver version:\s+4\.\d+\.\d+/);
  });

  test('the targets snapstore needs are loaded', () => {
    const names = run('dmsetup', ['targets']).split('\n').map((l) => l.split(/\s+/)[0]);
    for (const t of ['linear', 'snapshot', 'snapshot-origin', 'snapshot-merge', 'flakey', 'zero', 'error']) expect(names).toContain(t);
  });

  describe('a linear device over /dev/vda', () => {
    const name = 'smoke-linear';
    const dev = `/dev/mapper/${name}`;
    const start = 4096; // sectors into /dev/vda
    const length = 2048; // sectors
    beforeAll(() => {
      run('dmsetup', ['create', name, '--table', `0 ${length} linear /dev/vda ${start}`]);
    });
    afterAll(() => {
      run('dmsetup', ['remove', '--retry', name]);
    });

    test('its node exists without udev and its table reads back', () => {
      expect(readFileSync(dev).length).toBe(length * SECTOR);
      expect(run('dmsetup', ['table', name]).trim()).toBe(`0 ${length} linear 254:0 ${start}`);
    });

    test('data written through it lands on /dev/vda at the mapped offset', () => {
      const data = randomBytes(256 * 1024);
      writeAt(dev, 64 * SECTOR, data);
      expect(readAt('/dev/vda', (start + 64) * SECTOR, data.length).equals(data)).toBe(true);
    });

    test('data written to /dev/vda shows through it', () => {
      const data = randomBytes(64 * 1024);
      writeAt('/dev/vda', (start + 1000) * SECTOR, data);
      expect(readAt(dev, 1000 * SECTOR, data.length).equals(data)).toBe(true);
    });
  });

  test('the device is gone after remove', () => {
    expect(run('dmsetup', ['ls'])).not.toContain('smoke-linear');
  });
});

describe('filesystems', () => {
  const mnt = '/tmp/smoke-mnt';
  mkdirSync(mnt, { recursive: true });

  for (const [fs, mkfs] of [
    ['ext4', ['mkfs.ext4', '-q', '-F']],
    ['xfs', ['mkfs.xfs', '-q', '-f']],
  ] as const) {
    test(`mkfs.${fs} on /dev/vdb, mount, write, remount, read`, () => {
      run(mkfs[0], [...mkfs.slice(1), '/dev/vdb']);
      run('mount', ['-t', fs, '/dev/vdb', mnt]);
      const data = randomBytes(100_000);
      try {
        writeFileSync(`${mnt}/file`, data);
      } finally {
        run('umount', [mnt]);
      }
      run('mount', ['-t', fs, '-o', 'ro', '/dev/vdb', mnt]);
      try {
        expect(readFileSync(`${mnt}/file`).equals(data)).toBe(true);
      } finally {
        run('umount', [mnt]);
      }
    });
  }

  test('a loop device over a file', () => {
    const img = '/tmp/smoke-loop.img';
    writeFileSync(img, Buffer.alloc(0));
    run('truncate', ['-s', '16M', img]);
    const loop = run('losetup', ['-f', '--show', img]).trim();
    try {
      expect(loop).toMatch(/^\/dev\/loop\d+$/);
      const data = randomBytes(4096);
      writeAt(loop, 8192, data);
      expect(readFileSync(img).subarray(8192, 8192 + 4096).equals(data)).toBe(true);
    } finally {
      run('losetup', ['-d', loop]);
    }
  });
});
