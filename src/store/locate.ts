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
import { blockDeviceInfo } from '../linux/blockdev.js';
import { fromDevT } from '../linux/device-number.js';
import { fromNodeError, isErrno } from '../linux/errors.js';
import { mountsOf } from '../linux/mountinfo.js';
import type { DeviceIdentity } from './identity.js';
import { deviceIdentity, resolveDevice, sameIdentity } from './identity.js';
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
  const dir = path.dirname(m.file);
  let dev: bigint;
  try {
    dev = fs.statSync(dir, { bigint: true }).dev;
  } catch {
    return { state: 'filesystem-absent', why: `${dir} does not exist: ${fsName} is not mounted there${await whereIsIt(m)}` };
  }
  // The file's folder is there: is it on the store's own filesystem? Asked of
  // the device under the folder itself, so nothing another device claims
  // (a cache that still names a detached disk) can change the answer.
  if (await sameFilesystem(dev, m.device)) return { state: 'gone' };
  return { state: 'filesystem-absent', why: `${dir} is on another filesystem: ${fsName} is not mounted there${await whereIsIt(m)}` };
}

/** Whether the filesystem on device `dev` is the one `recorded` names (false when it has no identity to compare). */
async function sameFilesystem(dev: bigint, recorded: DeviceIdentity): Promise<boolean> {
  try {
    return sameIdentity(await deviceIdentity(blockDeviceInfo(fromDevT(dev))), recorded);
  } catch (err) {
    if (err instanceof SnapstoreError) return false; // not a block device (tmpfs), or no stable identity: not ours
    throw err;
  }
}

/** Where the store's filesystem is, for the message: on no device, or on one that is not mounted there. */
async function whereIsIt(m: Pick<StoreManifest, 'device'>): Promise<string> {
  try {
    const info = await resolveDevice(m.device);
    const at = mountsOf(info.dev)[0];
    return at ? ` (it is on ${info.node}, mounted at ${at.mountPoint})` : ` (it is on ${info.node}, not mounted)`;
  } catch (err) {
    if (err instanceof SnapstoreError && err.code === 'DEVICE_NOT_FOUND') return ', and is on no device present now';
    if (err instanceof SnapstoreError) return '';
    throw err;
  }
}

/** The refusal for a store whose filesystem is not here. */
export function filesystemAbsent(name: string, file: string, why: string): SnapstoreError {
  return new SnapstoreError('STORE_FS_ABSENT', `the file of store "${name}" (${file}) cannot be checked: ${why}`, {
    hint: 'mount that filesystem where it was and run this again; the manifest is kept until the file is known to be gone',
  });
}
