/**
 * The first step of making or growing a store: blocks from the filesystem.
 * A new file is created exclusively (0600, never through a symlink) and
 * preallocated with fallocate (no holes); the undo stack learns how to take
 * it back. The blocks ext4 reserves for root are never taken.
 */
import * as fs from 'node:fs';
import { SnapstoreError } from '../errors.js';
import { checkFilesystem } from '../fiemap/filesystems.js';
import { fromNodeError, isErrno } from '../linux/errors.js';
import { fallocate, fstatfs, fsync, openOrThrow, setImmutable } from '../linux/fs.js';
import { unlinkDurable } from '../state/files.js';
import type { Bytes } from '../units/units.js';
import { bytes, formatBytes } from '../units/units.js';
import { SafePoints } from '../util/interrupt.js';
import type { UndoStack } from '../util/undo.js';

/**
 * Refuses a filesystem that cannot hold a store, or one with less room for
 * users than `size` (root's fallocate could otherwise take the blocks ext4
 * keeps back for the system's emergencies). Creates nothing.
 */
export function checkRoomFor(dir: string, size: Bytes): void {
  const fd = openOrThrow(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    const info = fstatfs(fd, dir);
    checkFilesystem(dir, info);
    if (size > info.availableBytes) {
      throw new SnapstoreError('ENOSPC', `the filesystem of ${dir} has ${formatBytes(info.availableBytes)} available, less than the ${formatBytes(size)} store; nothing was created`, {
        hint: 'free space there or ask for a smaller --size (the blocks reserved for root are never used for a store)',
      });
    }
  } finally {
    fs.closeSync(fd);
  }
}

export interface AllocateOptions {
  readonly file: string;
  readonly size: Bytes;
  /** write zeros over the whole file */
  readonly zero?: boolean;
  readonly onProgress?: (done: Bytes, total: Bytes) => void;
  readonly signal?: AbortSignal;
  /** called once the file exists, before its blocks are allocated (to record which file it is) */
  readonly created?: (fd: number) => void;
}

const ZERO_BLOCK = 1 << 20;

/** Creates and preallocates the file; returns its descriptor (the undo closes it; on success, the caller). */
export async function allocateNewFile(undo: UndoStack, options: AllocateOptions): Promise<number> {
  const { file, size } = options;
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    if (isErrno(err, 'EEXIST')) {
      throw new SnapstoreError('PATH_EXISTS', `${file} appeared while we were checking it`, { hint: 'choose a path that does not exist' });
    }
    throw fromNodeError(err, 'open', file);
  }
  undo.push(`the store file ${file}`, () => {
    try {
      setImmutable(fd, file, false);
      unlinkDurable(file);
    } finally {
      fs.closeSync(fd);
    }
  });
  options.created?.(fd);
  try {
    fallocate(fd, file, bytes(0), size);
  } catch (err) {
    if (isErrno(err, 'ENOSPC')) {
      throw new SnapstoreError('ENOSPC', `the filesystem of ${file} has no room for a ${formatBytes(size)} store (fallocate: ENOSPC)`, {
        hint: 'free space there or ask for a smaller --size',
      });
    }
    throw err;
  }
  if (options.zero) await writeZeros(fd, options);
  fsync(fd, file);
  return fd;
}

async function writeZeros(fd: number, options: AllocateOptions): Promise<void> {
  const { file, size } = options;
  const block = Buffer.alloc(ZERO_BLOCK);
  const safe = new SafePoints(options.signal);
  for (let done = 0; done < size; ) {
    await safe.check(`while writing zeros over ${file}`);
    const n = Math.min(ZERO_BLOCK, size - done);
    try {
      fs.writeSync(fd, block, 0, n, done);
    } catch (err) {
      throw fromNodeError(err, 'pwrite', file);
    }
    done += n;
    options.onProgress?.(bytes(done), size);
  }
}
