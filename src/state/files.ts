/**
 * Durable changes to the state directory: a file replaced atomically (a
 * crash leaves the old or the new content, never a mix) and an unlink that
 * survives a power cut.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SnapstoreError } from '../errors.js';
import { fromNodeError, isErrno } from '../linux/errors.js';
import { fsyncDir } from '../linux/fs.js';
import { mountOfPath } from '../linux/mountinfo.js';

/** Where the filesystem of a path of the state directory is mounted, and what it is: for messages. */
export function filesystemOf(p: string): { mountPoint: string; text: string } {
  try {
    const m = mountOfPath(p);
    if (m) return { mountPoint: m.mountPoint, text: `${m.mountPoint} (${m.source}, ${m.fsType})` };
  } catch {
    // fall through: name the folder itself
  }
  return { mountPoint: p, text: `the filesystem of ${p}` };
}

/**
 * A failed write to the state directory, explained: a full (or read-only)
 * state filesystem is about the state directory, never about the size of a
 * store, and the message names that filesystem.
 */
export function explainStateWrite(err: unknown, call: string, target: string): unknown {
  if (isErrno(err, 'ENOSPC') || isErrno(err, 'EDQUOT')) {
    const where = filesystemOf(path.dirname(target));
    return new SnapstoreError('ENOSPC', `cannot ${call} ${target}: the filesystem that holds the state directory, ${where.text}, is full`, {
      hint: `free space on ${where.mountPoint} (a few KiB will do, whatever the store's size), or give --state-dir a directory on another filesystem; then run this again`,
      cause: err,
    });
  }
  if (isErrno(err, 'EROFS')) {
    return new SnapstoreError('STATE_DIR_READ_ONLY', `cannot ${call} ${target}: the state directory is on a read-only filesystem, ${filesystemOf(path.dirname(target)).text}`, {
      hint: 'remount it read-write, or give --state-dir a writable filesystem that is mounted at boot',
      cause: err,
    });
  }
  return fromNodeError(err, call, target);
}

/**
 * Temp file (`mode`, 0600 unless given; never through a symlink), fsync, rename,
 * fsync of the directory. `explain` turns a failure into the error thrown: by
 * default, a write to the state directory (`explainStateWrite`).
 */
export function writeFileAtomic(file: string, data: string, mode = 0o600, explain: (err: unknown, call: string, target: string) => unknown = explainStateWrite): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}`);
  fs.rmSync(tmp, { force: true });
  let fd: number;
  try {
    fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, mode);
  } catch (err) {
    throw explain(err, 'create', tmp);
  }
  try {
    try {
      fs.fchmodSync(fd, mode);
      fs.writeFileSync(fd, data);
    } catch (err) {
      throw explain(err, 'write', tmp);
    }
    try {
      fs.fsyncSync(fd);
    } catch (err) {
      throw explain(err, 'fsync', tmp);
    }
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw explain(err, 'rename', file);
  }
  fsyncDir(dir);
}

/** Removes a file and makes the removal durable. */
export function unlinkDurable(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (err) {
    throw fromNodeError(err, 'unlink', file);
  }
  fsyncDir(path.dirname(file));
}
