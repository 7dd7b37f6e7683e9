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

/** Runs `fn` holding the state directory's lock; refuses at once (or after `waitMs`) if another command holds it. */
export async function withStateLock<T>(dir: StateDir, fn: (lock: StateLock) => Promise<T> | T, options: LockOptions = {}): Promise<T> {
  const lockPath = statePaths.lock(dir.path);
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
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.uid !== 0 || (st.mode & 0o077) !== 0) {
      throw new SnapstoreError('STATE_UNTRUSTED', `${lockPath} is not a root-owned file only root can use (uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8)})`, {
        hint: `check the state directory, then remove ${lockPath} (it is made again)`,
      });
    }
    const deadline = Date.now() + (options.waitMs ?? 0);
    for (;;) {
      try {
        flockExclusive(fd, lockPath, false);
        break;
      } catch (err) {
        if (!(isErrno(err, 'EWOULDBLOCK') || isErrno(err, 'EAGAIN'))) throw err;
        if (Date.now() >= deadline) {
          throw new SnapstoreError('LOCKED', `another snapstore command holds ${lockPath}`, {
            hint: options.waitMs ? 'it is still running: try again later' : 'wait for it to finish and run this again (or pass --wait-lock)',
          });
        }
        await sleep(100);
      }
    }
    return await fn(StateLock.make(dir));
  } finally {
    fs.closeSync(fd);
  }
}
