/**
 * `store delete`: clear the immutable flag, delete the file, then the
 * manifest. Refused while a dm or loop device uses the store, and while the
 * store's filesystem is not here (the file may still exist there).
 */
import * as fs from 'node:fs';
import type { DeviceMapperApi } from '../dm/api.js';
import { deviceMapperIfPresent } from '../dm/presence.js';
import { SnapstoreError } from '../errors.js';
import { fromNodeError, isErrno } from '../linux/errors.js';
import { setImmutable } from '../linux/fs.js';
import { unlinkDurable } from '../state/files.js';
import type { Intent } from '../state/intent.js';
import type { StateLock } from '../state/lock.js';
import { withStateLock } from '../state/lock.js';
import { statePaths } from '../state/names.js';
import { StateDir } from '../state/state-dir.js';
import type { Creating } from './creating.js';
import { readCreating, removeCreating } from './creating.js';
import { describeMismatch, fileIdentity } from './file-identity.js';
import { storeUsers } from './in-use.js';
import { filesystemAbsent, locateStoreFile } from './locate.js';
import { findManifest, readManifest } from './manifest.js';

export interface DeleteOptions {
  readonly stateDir: string;
  readonly name: string;
  /** device-mapper (default: opened here, if the system has it) */
  readonly dm?: DeviceMapperApi;
}

export interface DeleteResult {
  readonly name: string;
  readonly file: string;
  /** false when the file was already gone from its filesystem */
  readonly fileDeleted: boolean;
}

export async function deleteStore(options: DeleteOptions): Promise<DeleteResult> {
  return withStateLock(StateDir.need(options.stateDir), (lock) => deleteStoreLocked(lock, options));
}

/** The same, for a caller that holds the state directory's lock. */
export async function deleteStoreLocked(lock: StateLock, options: Omit<DeleteOptions, 'stateDir'>): Promise<DeleteResult> {
  const stateDir = lock.dir;
  const { name } = options;
  if (!findManifest(stateDir, name)) {
    const record = readCreating(stateDir, name);
    if (record) return cleanUnfinished(lock, record);
  }
  const m = readManifest(stateDir, name);
  const dm = options.dm ?? deviceMapperIfPresent();
  let users: string[];
  try {
    users = storeUsers(dm, name, m.file);
  } finally {
    if (!options.dm) dm?.close();
  }
  if (users.length) {
    throw new SnapstoreError('STORE_IN_USE', `store "${name}" is in use by ${users.join(', ')}; nothing was deleted`, {
      hint: 'detach it first (`snapstore store detach`)',
    });
  }
  const where = await locateStoreFile(m);
  if (where.state === 'filesystem-absent') throw filesystemAbsent(name, m.file, where.why);
  if (where.state === 'present') {
    removeStoreFile(where.fd, m.file, (fd) => {
      const other = describeMismatch(m.file, fileIdentity(fd, m.file), m);
      if (other) {
        throw new SnapstoreError('STORE_MISMATCH', `${other}; it is not our file, so it was not deleted`, {
          hint: 'remove the manifest by hand if the store is gone: ' + statePaths.storeManifest(stateDir.path, name),
        });
      }
    });
  }
  unlinkDurable(statePaths.storeManifest(stateDir.path, name));
  // A create killed between its manifest and the end leaves its record too.
  if (readCreating(stateDir, name)) removeCreating(lock, name);
  return { name, file: m.file, fileDeleted: where.state === 'present' };
}

/**
 * What a killed `store create` left: its file (only if it is the one the
 * record names, or still empty when the record had no identity yet) and the record.
 */
function cleanUnfinished(lock: StateLock, record: Intent<Creating>): DeleteResult {
  const { file, identity } = record.data;
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw fromNodeError(err, 'open', file);
  }
  if (fd !== undefined) {
    removeStoreFile(fd, file, (fd) => {
      const st = fs.fstatSync(fd);
      const ours = identity ? describeMismatch(file, fileIdentity(fd, file), identity) === undefined : st.isFile() && st.size === 0;
      if (!ours) {
        throw new SnapstoreError('STORE_MISMATCH', `${file} is not the file the unfinished \`store create ${record.name}\` made, so it was not deleted`, {
          hint: `check it by hand; then remove ${statePaths.intent(statePaths.stores(lock.dir.path), record.name, 'creating')}`,
        });
      }
    });
  }
  removeCreating(lock, record.name);
  return { name: record.name, file, fileDeleted: fd !== undefined };
}

/**
 * Deletes an open store file for good: `mustBeOurs` throws if it is not the
 * one we mean; then the immutable flag is cleared and the unlink made
 * durable. Closes `fd`.
 */
function removeStoreFile(fd: number, file: string, mustBeOurs: (fd: number) => void): void {
  try {
    mustBeOurs(fd);
    setImmutable(fd, file, false);
  } finally {
    fs.closeSync(fd);
  }
  unlinkDurable(file);
}
