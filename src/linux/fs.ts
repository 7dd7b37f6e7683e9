/**
 * File and filesystem syscalls: fallocate, inode flags, statfs, sync, locks.
 * Each failure becomes a SyscallError naming the call and the path.
 */
import * as fs from 'node:fs';
import type { Bytes } from '../units/units.js';
import { bytes } from '../units/units.js';
import type { FsUsage } from '../units/size-spec.js';
import { fromNodeError, SyscallError } from './errors.js';
import { IOR, IOW, ioctl } from './ioctl.js';
import { loadLibc } from './libc.js';

/** include/uapi/linux/fs.h: FS_IOC_GETFLAGS/SETFLAGS take a pointer to long (the kernel reads an int). */
const FS_IOC_GETFLAGS = IOR(0x66, 1, 8);
const FS_IOC_SETFLAGS = IOW(0x66, 2, 8);
export const FS_IMMUTABLE_FL = 0x00000010;

export function getInodeFlags(fd: number, path: string): number {
  const buf = Buffer.alloc(8);
  ioctl(fd, FS_IOC_GETFLAGS, buf, 'ioctl(FS_IOC_GETFLAGS)', path);
  return buf.readUInt32LE(0);
}

export function setInodeFlags(fd: number, path: string, flags: number): void {
  const buf = Buffer.alloc(8);
  buf.writeUInt32LE(flags >>> 0, 0);
  ioctl(fd, FS_IOC_SETFLAGS, buf, 'ioctl(FS_IOC_SETFLAGS)', path);
}

/** include/uapi/linux/fs.h FS_IOC_GETVERSION: the inode generation, new each time an inode number is reused. */
const FS_IOC_GETVERSION = IOR(0x76, 1, 8);

export function getInodeGeneration(fd: number, path: string): number {
  const buf = Buffer.alloc(8);
  ioctl(fd, FS_IOC_GETVERSION, buf, 'ioctl(FS_IOC_GETVERSION)', path);
  return buf.readUInt32LE(0);
}

/** Sets or clears FS_IMMUTABLE_FL; returns whether it was set before. */
export function setImmutable(fd: number, path: string, on: boolean): boolean {
  const flags = getInodeFlags(fd, path);
  const was = (flags & FS_IMMUTABLE_FL) !== 0;
  if (was !== on) setInodeFlags(fd, path, on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL);
  return was;
}

/** fallocate(2) with mode 0: allocate (no holes) and extend the size. */
export function fallocate(fd: number, path: string, offset: Bytes, length: Bytes): void {
  const libc = loadLibc();
  if (libc.fallocate(fd, 0, offset, length) < 0) throw new SyscallError('fallocate', libc.errno(), path);
}

const FALLOC_FL_KEEP_SIZE = 0x01;
const FALLOC_FL_PUNCH_HOLE = 0x02;

/** Frees a range of a file's blocks, keeping its size (include/uapi/linux/falloc.h). */
export function punchHole(fd: number, path: string, offset: Bytes, length: Bytes): void {
  const libc = loadLibc();
  if (libc.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length) < 0) {
    throw new SyscallError('fallocate(PUNCH_HOLE)', libc.errno(), path);
  }
}

/** include/uapi/linux/fadvise.h */
const POSIX_FADV_DONTNEED = 4;

/**
 * Drops a file's clean cached pages, so that the next read through the
 * filesystem sees what was written to its blocks on the raw device.
 * posix_fadvise returns the error number rather than setting errno.
 */
export function dropCachedPages(fd: number, path: string): void {
  const rc = loadLibc().posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  if (rc !== 0) throw new SyscallError('posix_fadvise(DONTNEED)', rc, path);
}

/** Magic numbers from include/uapi/linux/magic.h. */
export const FS_MAGIC = {
  ext4: 0xef53,
  xfs: 0x58465342,
  btrfs: 0x9123683e,
  tmpfs: 0x01021994,
  overlayfs: 0x794c7630,
  nfs: 0x6969,
  fuse: 0x65735546,
  zfs: 0x2fc12fc1,
  f2fs: 0xf2f52010,
  vfat: 0x4d44,
  squashfs: 0x73717368,
  ramfs: 0x858458f6,
  cifs: 0xff534d42,
  smb2: 0xfe534d42,
  ecryptfs: 0xf15f,
} as const;

export interface FsInfo {
  /** f_type, see FS_MAGIC */
  readonly magic: number;
  /** the name of a known magic, or the magic in hex */
  readonly type: string;
  /** f_bsize: the filesystem block size */
  readonly blockSize: Bytes;
  /** f_bavail × f_bsize: free space outside the blocks reserved for root */
  readonly availableBytes: Bytes;
  /** f_blocks × f_bsize: the filesystem's size */
  readonly sizeBytes: Bytes;
  /** f_bfree × f_bsize: free space, the blocks reserved for root included (root may write there) */
  readonly freeBytes: Bytes;
}

/** struct statfs on 64-bit Linux (asm-generic/statfs.h): f_type at 0, f_bsize at 8, f_blocks at 16, f_bfree at 24, f_bavail at 32; 120 bytes. */
const STATFS_SIZE = 120;

export function fstatfs(fd: number, path: string): FsInfo {
  const libc = loadLibc();
  const buf = Buffer.alloc(STATFS_SIZE);
  if (libc.fstatfs(fd, buf) < 0) throw new SyscallError('fstatfs', libc.errno(), path);
  const magic = Number(buf.readBigUInt64LE(0) & 0xffffffffn);
  const name = Object.entries(FS_MAGIC).find(([, m]) => m === magic)?.[0];
  const blockSize = bytes(buf.readBigUInt64LE(8));
  return { magic, type: name ?? `0x${magic.toString(16)}`, blockSize, availableBytes: bytes(buf.readBigUInt64LE(32) * BigInt(blockSize)), sizeBytes: bytes(buf.readBigUInt64LE(16) * BigInt(blockSize)), freeBytes: bytes(buf.readBigUInt64LE(24) * BigInt(blockSize)) };
}

/** fstatfs(2) of the filesystem holding `path` (opened without following a final symlink). */
export function statfsOf(path: string): FsInfo {
  const fd = openOrThrow(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    return fstatfs(fd, path);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * statfs(2) by path: the size of the filesystem holding `path` and what it
 * uses, as df counts (root's reserved blocks count as free): what a share
 * such as `10%` or `200%USED` is of.
 */
export function statfsUsage(path: string): FsUsage {
  let s: fs.BigIntStatsFs;
  try {
    s = fs.statfsSync(path, { bigint: true });
  } catch (err) {
    throw fromNodeError(err, 'statfs', path);
  }
  return { sizeBytes: bytes(s.blocks * s.bsize), usedBytes: bytes((s.blocks - s.bfree) * s.bsize) };
}

export function fsync(fd: number, path: string): void {
  try {
    fs.fsyncSync(fd);
  } catch (err) {
    throw fromNodeError(err, 'fsync', path);
  }
}

export function fdatasync(fd: number, path: string): void {
  try {
    fs.fdatasyncSync(fd);
  } catch (err) {
    throw fromNodeError(err, 'fdatasync', path);
  }
}

/** fsync of a directory, so a rename or unlink in it is durable. */
export function fsyncDir(dir: string): void {
  const fd = openOrThrow(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY, 'open');
  try {
    fsync(fd, dir);
  } finally {
    fs.closeSync(fd);
  }
}

export function openOrThrow(path: string, flags: number, call = 'open', mode?: number): number {
  try {
    return fs.openSync(path, flags, mode);
  } catch (err) {
    throw fromNodeError(err, call, path);
  }
}

const LOCK_EX = 2;
const LOCK_NB = 4;

/** flock(2) exclusive; with `wait` false, EWOULDBLOCK when held elsewhere. */
export function flockExclusive(fd: number, path: string, wait: boolean): void {
  const libc = loadLibc();
  if (libc.flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) throw new SyscallError('flock', libc.errno(), path);
}
