/**
 * The state directory holds one manifest per store under `stores/`, and a
 * lock file that serialises every command that changes a store.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SnapstoreError } from '../errors.js';
import { isErrno } from '../linux/errors.js';
import { flockExclusive, openOrThrow } from '../linux/fs.js';

export function storesDir(stateDir: string): string {
  return path.join(stateDir, 'stores');
}

export function manifestPath(stateDir: string, name: string): string {
  return path.join(storesDir(stateDir), `${name}.json`);
}

export function ensureStateDir(stateDir: string): void {
  fs.mkdirSync(storesDir(stateDir), { recursive: true, mode: 0o700 });
}

/** Runs `fn` holding the state directory's lock; refuses at once if another command holds it. */
export async function withStateLock<T>(stateDir: string, fn: () => Promise<T> | T): Promise<T> {
  ensureStateDir(stateDir);
  const lockPath = path.join(stateDir, 'lock');
  const fd = openOrThrow(lockPath, fs.constants.O_RDWR | fs.constants.O_CREAT, 'open', 0o600);
  try {
    try {
      flockExclusive(fd, lockPath, false);
    } catch (err) {
      if (isErrno(err, 'EWOULDBLOCK') || isErrno(err, 'EAGAIN')) {
        throw new SnapstoreError('LOCKED', `another snapstore command holds ${lockPath}`, {
          hint: 'wait for it to finish and run this again',
        });
      }
      throw err;
    }
    return await fn();
  } finally {
    fs.closeSync(fd);
  }
}
