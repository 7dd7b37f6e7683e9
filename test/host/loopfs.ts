/**
 * Real filesystems on loop devices for host tests. Each one lives in its own
 * temporary directory (root-owned, mode 0700, as the store's parent must be).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { fallocate, punchHole } from '../../src/linux/fs.js';
import { bytes } from '../../src/units/units.js';

export type FsType = 'ext4' | 'xfs' | 'btrfs' | 'tmpfs';

export interface LoopFs {
  readonly type: FsType;
  readonly mountpoint: string;
  /** /dev/loopN, or undefined for tmpfs */
  readonly device: string | undefined;
  /** a root-owned 0700 directory on the filesystem for stores */
  readonly storeDir: string;
  cleanup(): Promise<void>;
}

const MKFS: Record<Exclude<FsType, 'tmpfs'>, (dev: string, extra: string[]) => string[]> = {
  ext4: (dev, extra) => ['mkfs.ext4', '-q', '-F', '-b', '4096', ...extra, dev],
  xfs: (dev, extra) => ['mkfs.xfs', '-q', '-f', ...extra, dev],
  btrfs: (dev, extra) => ['mkfs.btrfs', '-q', '-f', ...extra, dev],
};

export async function makeLoopFs(type: FsType, sizeMiB: number, mkfsArgs: string[] = []): Promise<LoopFs> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `snapstore-${type}-`));
  const mountpoint = path.join(work, 'mnt');
  fs.mkdirSync(mountpoint);
  let device: string | undefined;
  if (type === 'tmpfs') {
    await execa('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', mountpoint]);
  } else {
    const image = path.join(work, 'fs.img');
    fs.closeSync(fs.openSync(image, 'w'));
    fs.truncateSync(image, sizeMiB * 1024 * 1024);
    device = (await execa('losetup', ['--find', '--show', image])).stdout.trim();
    const [cmd, ...args] = MKFS[type](device, mkfsArgs);
    await execa(cmd!, args);
    await execa('mount', [device, mountpoint]);
  }
  const storeDir = path.join(mountpoint, 'stores');
  fs.mkdirSync(storeDir, { mode: 0o700 });
  return {
    type,
    mountpoint,
    device,
    storeDir,
    async cleanup() {
      await execa('umount', [mountpoint], { reject: false });
      if (device) await execa('losetup', ['-d', device], { reject: false });
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}

/**
 * Fragments free space on purpose: allocate what is free to one file, then
 * punch out every other 4 KiB block. A file allocated afterwards fills those
 * holes and is scattered. (Filling with small files and deleting every other
 * one, docs/design.md's recipe, does the same on ext4 but not on xfs, which frees
 * unlinked files' blocks in the background and spreads files over groups.)
 * Returns the number of holes; about `leaveMiB`/2 stays free in them.
 */
export async function fragmentFreeSpace(mountpoint: string, leaveMiB = 64): Promise<number> {
  // xfs keeps a reserve pool of free blocks out of statfs; the allocator
  // would still hand them out in one piece. Empty it so that free is free.
  if (fs.statfsSync(mountpoint).type === 0x58465342) await execa('xfs_io', ['-x', '-c', 'resblks 0', mountpoint]);
  const ballast = freeBytes(mountpoint) - leaveMiB * 1024 * 1024;
  if (ballast > 0) await execa('fallocate', ['-l', String(ballast - (ballast % 4096)), path.join(mountpoint, 'ballast')]);
  const combPath = path.join(mountpoint, 'comb');
  const fd = fs.openSync(combPath, 'w');
  try {
    let size = freeBytes(mountpoint) - (1 << 20);
    size -= size % 8192;
    fallocate(fd, combPath, bytes(0), bytes(size));
    let holes = 0;
    for (let at = 0; at < size; at += 8192, holes++) punchHole(fd, combPath, bytes(at), bytes(4096));
    fs.fsyncSync(fd);
    return holes;
  } finally {
    fs.closeSync(fd);
  }
}

export function freeBytes(mountpoint: string): number {
  const s = fs.statfsSync(mountpoint);
  return s.bavail * s.bsize;
}

/** Every entry of a directory tree, for "nothing left behind" checks. */
export function listTree(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true }).map(String).sort();
}
