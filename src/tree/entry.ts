/**
 * One entry of a file tree as a diff sees it: what lstat and readlink say,
 * read at one moment. Paths are bytes (Buffer): a Linux name need not be
 * UTF-8, and a name decoded and encoded again would name another file.
 */
import * as fs from 'node:fs';
import { fromNodeError, isErrno } from '../linux/errors.js';
import { bytes, type Bytes } from '../units/units.js';

export type EntryType = 'file' | 'directory' | 'symlink' | 'fifo' | 'socket' | 'char-device' | 'block-device';

export interface Entry {
  readonly type: EntryType;
  /** a regular file's length; a symlink's target length; a directory's is its own bookkeeping */
  readonly size: Bytes;
  /** permission bits with setuid, setgid and sticky (st_mode & 07777) */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** modification time in nanoseconds: whether contents must be read (compare.ts) */
  readonly mtimeNs: bigint;
  /** the filesystem it is on (st_dev): a tree walk stays on its root's */
  readonly dev: bigint;
  /** its inode number: the same in a block-level snapshot of the filesystem */
  readonly ino: bigint;
  /** a device node's major:minor (st_rdev) */
  readonly rdev: bigint;
  /** a symlink's target */
  readonly target?: Buffer;
}

function typeOf(st: fs.BigIntStats): EntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'char-device';
  return 'block-device';
}

/** The entry at `path` (never followed), or undefined when it is not there (any more: a live tree changes while it is read). */
export function entryAt(path: Buffer): Entry | undefined {
  let st: fs.BigIntStats;
  let target: Buffer | undefined;
  try {
    st = fs.lstatSync(path, { bigint: true });
    if (st.isSymbolicLink()) target = fs.readlinkSync(path, { encoding: 'buffer' });
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw fromNodeError(err, 'lstat', path.toString());
  }
  return {
    type: typeOf(st),
    size: bytes(st.size),
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtimeNs: st.mtimeNs,
    dev: st.dev,
    ino: st.ino,
    rdev: st.rdev,
    ...(target !== undefined ? { target } : {}),
  };
}

/** The names in the directory `path`, in byte order; none when it is gone. */
export function namesIn(path: Buffer): Buffer[] {
  try {
    return fs.readdirSync(path, { encoding: 'buffer' }).sort(Buffer.compare);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return [];
    throw fromNodeError(err, 'readdir', path.toString());
  }
}
