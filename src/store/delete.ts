/**
 * `store delete`: clear the immutable flag, delete the file, then the
 * manifest. Refused while a dm or loop device uses the store.
 */
import * as fs from 'node:fs';
import { SnapstoreError } from '../errors.js';
import { fromNodeError, isErrno } from '../linux/errors.js';
import { setImmutable } from '../linux/fs.js';
import { unlinkDurable } from './atomic-write.js';
import { manifestExists, readManifest } from './manifest.js';
import type { CreationRecord } from './creation-record.js';
import { creationRecordPath, readCreationRecord, removeCreationRecord } from './creation-record.js';
import { manifestPath, withStateLock } from './state-dir.js';
import { storeUsers } from './in-use.js';
import { describeMismatch, fileIdentity } from './file-identity.js';

export interface DeleteResult {
  readonly name: string;
  readonly file: string;
  /** false when the file was already gone */
  readonly fileDeleted: boolean;
}

export async function deleteStore(stateDir: string, name: string): Promise<DeleteResult> {
  return withStateLock(stateDir, () => {
    if (!manifestExists(stateDir, name)) {
      const record = readCreationRecord(stateDir, name);
      if (record) return cleanUnfinished(stateDir, record);
    }
    const m = readManifest(stateDir, name);
    const users = storeUsers(name, m.file);
    if (users.length) {
      throw new SnapstoreError('STORE_IN_USE', `store "${name}" is in use by ${users.join(', ')}; nothing was deleted`, {
        hint: 'detach it first (`snapstore store detach`)',
      });
    }
    const fileDeleted = removeStoreFile(m.file, (fd) => {
      const other = describeMismatch(m.file, fileIdentity(fd, m.file), m);
      if (other) {
        throw new SnapstoreError('STORE_MISMATCH', `${other}; it is not our file, so it was not deleted`, {
          hint: 'remove the manifest by hand if the store is gone: ' + manifestPath(stateDir, name),
        });
      }
    });
    unlinkDurable(manifestPath(stateDir, name));
    // A create killed between its manifest and the end leaves its record too.
    if (readCreationRecord(stateDir, name)) removeCreationRecord(stateDir, name);
    return { name, file: m.file, fileDeleted };
  });
}

/**
 * What a killed `store create` left: its file (only if it is the one the
 * record names, or still empty when the record had no identity yet) and the record.
 */
function cleanUnfinished(stateDir: string, record: CreationRecord): DeleteResult {
  const fileDeleted = removeStoreFile(record.file, (fd) => {
    const st = fs.fstatSync(fd);
    const ours = record.identity
      ? describeMismatch(record.file, fileIdentity(fd, record.file), record.identity) === undefined
      : st.isFile() && st.size === 0;
    if (!ours) {
      throw new SnapstoreError('STORE_MISMATCH', `${record.file} is not the file the unfinished \`store create ${record.name}\` made, so it was not deleted`, {
        hint: `check it by hand; then remove ${creationRecordPath(stateDir, record.name)}`,
      });
    }
  });
  removeCreationRecord(stateDir, record.name);
  return { name: record.name, file: record.file, fileDeleted };
}

/**
 * Deletes a store file for good: `mustBeOurs` throws if the open file is not
 * the one we mean; then the immutable flag is cleared and the unlink made
 * durable. False when the file was already gone.
 */
function removeStoreFile(file: string, mustBeOurs: (fd: number) => void): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw fromNodeError(err, 'open', file);
  }
  try {
    mustBeOurs(fd);
    setImmutable(fd, file, false);
  } finally {
    fs.closeSync(fd);
  }
  unlinkDurable(file);
  return true;
}
