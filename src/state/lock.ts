/**
 * One lock per state directory: every command that changes what snapstore
 * records holds it. A function that needs it takes the StateLock as a
 * parameter, so holding the lock is part of its signature; only
 * `withStateLock` makes one.
 */
import * as fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { SnapstoreError } from '../errors.js';
import { isErrno } from '../linux/errors.js';
import { flockExclusive } from '../linux/fs.js';
import { flockHolder } from '../linux/proc-locks.js';
import { explainStateWrite } from './files.js';
import { statePaths } from './names.js';
import type { StateDir } from './state-dir.js';

const TOKEN = Symbol('state lock');

export class StateLock {
  private readonly [TOKEN] = true;
  private constructor(readonly dir: StateDir) {}

  /** @internal made by withStateLock only */
  static make(dir: StateDir): StateLock {
    return new StateLock(dir);
  }
}

export interface LockOptions {
  /** Wait this long for another command to finish (0: refuse at once). */
  readonly waitMs?: number;
}

/**
 * Runs `fn` holding the state directory's lock; refuses at once (or after
 * `waitMs`) if another command holds it.
 *
 * The lock file exists only while a command holds it: it is removed, still
 * locked, when `fn` ends, so a command that refuses leaves nothing in the
 * state directory. A command that got the lock on a file removed meanwhile
 * (it waited on the old one) sees that the path no longer names its file,
 * and takes the lock again on a new one.
 */
export async function withStateLock<T>(dir: StateDir, fn: (lock: StateLock) => Promise<T> | T, options: LockOptions = {}): Promise<T> {
  const lockPath = statePaths.lock(dir.path);
  const deadline = Date.now() + (options.waitMs ?? 0);
  for (;;) {
    const fd = openLockFile(lockPath);
    let held = false;
    try {
      await flockBefore(fd, lockPath, deadline, options.waitMs ?? 0);
      if (!namesFile(lockPath, fd)) continue;
      held = true;
      return await fn(StateLock.make(dir));
    } finally {
      if (held) removeLockFile(lockPath);
      fs.closeSync(fd);
    }
  }
}

/**
 * The pid of the command that holds the state directory's lock now (undefined:
 * none). For readers: a step they see half done may be in progress there.
 */
export function stateLockHolder(dir: StateDir): number | undefined {
  return flockHolder(statePaths.lock(dir.path));
}

/** Opens (or makes) the lock file, and checks it is root's own. */
function openLockFile(lockPath: string): number {
  let fd: number;
  try {
    fd = fs.openSync(lockPath, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    if (isErrno(err, 'EROFS')) {
      throw new SnapstoreError('STATE_DIR_READ_ONLY', `cannot take the lock ${lockPath}: the state directory is on a read-only filesystem`, {
        hint: 'remount it read-write, or give --state-dir a writable filesystem that is mounted at boot',
      });
    }
    if (isErrno(err, 'ELOOP')) {
      throw new SnapstoreError('STATE_UNTRUSTED', `${lockPath} is a symbolic link; snapstore never makes one there`, { hint: `remove ${lockPath}` });
    }
    throw explainStateWrite(err, 'open', lockPath);
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile() || st.uid !== 0 || (st.mode & 0o077) !== 0) {
    fs.closeSync(fd);
    throw new SnapstoreError('STATE_UNTRUSTED', `${lockPath} is not a root-owned file only root can use (uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8)})`, {
      hint: `check the state directory, then remove ${lockPath} (it is made again)`,
    });
  }
  return fd;
}

/** flock, trying every 100 ms until the deadline. */
async function flockBefore(fd: number, lockPath: string, deadline: number, waitMs: number): Promise<void> {
  for (;;) {
    try {
      flockExclusive(fd, lockPath, false);
      return;
    } catch (err) {
      if (!(isErrno(err, 'EWOULDBLOCK') || isErrno(err, 'EAGAIN'))) throw err;
      if (Date.now() >= deadline) {
        throw new SnapstoreError('LOCKED', `another snapstore command holds ${lockPath}`, {
          hint: waitMs ? 'it is still running: try again later' : 'wait for it to finish and run this again (or pass --wait-lock)',
        });
      }
      await sleep(100);
    }
  }
}

/** Whether `lockPath` still names the file open on `fd` (the holder before us may have removed it). */
function namesFile(lockPath: string, fd: number): boolean {
  const mine = fs.fstatSync(fd);
  try {
    const now = fs.lstatSync(lockPath);
    return now.ino === mine.ino && now.dev === mine.dev;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}

/**
 * Removes the lock file while it is still locked. Not durable on purpose,
 * and never an error: a lock file that a crash brings back, or that could
 * not be removed (a read-only remount meanwhile), is an unlocked file, taken
 * as any other next time; the command's own outcome is what it reports.
 */
function removeLockFile(lockPath: string): void {
  try {
    fs.unlinkSync(lockPath);
  } catch {
    // left for the next command, as said above
  }
}
