/**
 * Where a store's file is, or why it cannot be found. "The file is gone from
 * its filesystem" (the filesystem is mounted where the store was and the
 * file is not in it) is told apart from "its filesystem is not here" (not
 * mounted, or its device absent): a manifest is dropped only for the first,
 * never for a file that may still exist on a filesystem mounted later.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SnapstoreError } from '../errors.js';
import { fromDevT, sameDevice } from '../linux/device-number.js';
import { fromNodeError, isErrno } from '../linux/errors.js';
import { resolveDevice } from './identity.js';
import type { StoreManifest } from './manifest.js';

export type StoreFileLocation =
  /** open read-only, O_NOFOLLOW: the caller closes it */
  | { readonly state: 'present'; readonly fd: number }
  | { readonly state: 'gone' }
  | { readonly state: 'filesystem-absent'; readonly why: string };

export async function locateStoreFile(m: Pick<StoreManifest, 'file' | 'device'>): Promise<StoreFileLocation> {
  try {
    return { state: 'present', fd: fs.openSync(m.file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW) };
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw fromNodeError(err, 'open', m.file);
  }
  const fsName = m.device.fsUuid ? `filesystem UUID ${m.device.fsUuid}` : `the filesystem last seen on ${m.device.kernelName}`;
  let deviceDev;
  try {
    deviceDev = (await resolveDevice(m.device)).dev;
  } catch (err) {
    if (err instanceof SnapstoreError && err.code === 'DEVICE_NOT_FOUND') {
      return { state: 'filesystem-absent', why: `${fsName} is on no device present now` };
    }
    throw err;
  }
  const dir = path.dirname(m.file);
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    return { state: 'filesystem-absent', why: `${dir} does not exist: ${fsName} is not mounted there` };
  }
  if (!sameDevice(fromDevT(st.dev), deviceDev)) {
    return { state: 'filesystem-absent', why: `${dir} is on another filesystem: ${fsName} is not mounted there` };
  }
  return { state: 'gone' };
}

/** The refusal for a store whose filesystem is not here. */
export function filesystemAbsent(name: string, file: string, why: string): SnapstoreError {
  return new SnapstoreError('STORE_FS_ABSENT', `the file of store "${name}" (${file}) cannot be checked: ${why}`, {
    hint: 'mount that filesystem where it was and run this again; the manifest is kept until the file is known to be gone',
  });
}
