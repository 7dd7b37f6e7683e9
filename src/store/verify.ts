/**
 * `store verify`: re-map a store and compare it with its manifest. A store
 * whose map went stale must never be attached: the kernel would write where
 * the map says, over whatever now lives there.
 */
import * as fs from 'node:fs';
import { SnapstoreError } from '../errors.js';
import { movedSegments } from '../fiemap/grow.js';
import { mapOpenFile } from '../fiemap/map-file.js';
import { blockDeviceInfo } from '../linux/blockdev.js';
import { FS_IMMUTABLE_FL, getInodeFlags } from '../linux/fs.js';
import { StateDir } from '../state/state-dir.js';
import { chunkSize } from '../units/units.js';
import { describeMismatch, fileIdentity } from './file-identity.js';
import { deviceIdentity, sameIdentity } from './identity.js';
import { filesystemAbsent, locateStoreFile } from './locate.js';
import type { StoreManifest } from './manifest.js';
import { readManifest } from './manifest.js';

export interface VerifyOptions {
  readonly stateDir: string;
  readonly name: string;
}

export interface VerifyResult {
  readonly name: string;
  readonly file: string;
  readonly ok: boolean;
  /** one line per difference, empty when ok */
  readonly problems: string[];
  readonly manifest: StoreManifest;
}

/**
 * Compares the store with its manifest. A file gone from its filesystem is
 * a problem reported; a filesystem that is not here is refused
 * (STORE_FS_ABSENT): nothing can be said about the file then.
 */
export async function verifyStore(options: VerifyOptions): Promise<VerifyResult> {
  const manifest = readManifest(StateDir.need(options.stateDir), options.name);
  const { name } = options;
  const problems: string[] = [];
  const result = (): VerifyResult => ({ name, file: manifest.file, ok: problems.length === 0, problems, manifest });
  const where = await locateStoreFile(manifest);
  if (where.state === 'filesystem-absent') throw filesystemAbsent(name, manifest.file, where.why);
  if (where.state === 'gone') {
    problems.push(`${manifest.file} is gone from its filesystem`);
    return result();
  }
  const fd = where.fd;
  try {
    const map = mapOpenFile(fd, manifest.file, chunkSize(manifest.chunkSize));
    const other = describeMismatch(manifest.file, fileIdentity(fd, manifest.file), manifest);
    if (other) problems.push(other);
    if (map.fileSize !== manifest.fileSize) problems.push(`size is ${map.fileSize} bytes, the manifest says ${manifest.fileSize}`);
    if ((getInodeFlags(fd, manifest.file) & FS_IMMUTABLE_FL) === 0) problems.push(`${manifest.file} is no longer immutable`);
    const identity = await deviceIdentity(blockDeviceInfo(map.device));
    if (!sameIdentity(identity, manifest.device)) {
      problems.push(`the file's filesystem is on ${identity.kernelName} (${JSON.stringify(identity)}), not the device the manifest names (${JSON.stringify(manifest.device)})`);
    }
    for (const s of movedSegments(map.extents, manifest.segments, 5)) {
      problems.push(`the store's ${s.length} bytes at file offset ${s.fileOffset} are no longer at device byte ${s.physical}`);
    }
  } catch (err) {
    if (!(err instanceof SnapstoreError)) throw err;
    problems.push(err.message);
  } finally {
    fs.closeSync(fd);
  }
  return result();
}

/** The same, refusing a store that does not match (STORE_STALE), with `why` saying what that stops. */
export async function verifiedManifest(options: VerifyOptions, why: string): Promise<StoreManifest> {
  const v = await verifyStore(options);
  if (!v.ok) {
    throw new SnapstoreError('STORE_STALE', `store "${v.name}" does not match its manifest${why}:\n  ${v.problems.join('\n  ')}`, {
      hint: 'the map is stale: the kernel would write over other data. Delete and recreate the store',
    });
  }
  return v.manifest;
}
