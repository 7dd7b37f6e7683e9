/**
 * `store verify`: re-map a store and compare it with its manifest. A store
 * whose map went stale must never be attached: the kernel would write where
 * the map says, over whatever now lives there.
 */
import * as fs from 'node:fs';
import { sameSegment } from '../fiemap/align.js';
import { mapOpenFile } from '../fiemap/map-file.js';
import { blockDeviceInfo } from '../linux/blockdev.js';
import { fromNodeError } from '../linux/errors.js';
import { FS_IMMUTABLE_FL, getInodeFlags } from '../linux/fs.js';
import { chunkSize } from '../units/units.js';
import { describeMismatch, fileIdentity } from './file-identity.js';
import { deviceIdentity, sameIdentity } from './identity.js';
import type { StoreManifest } from './manifest.js';
import { readManifest } from './manifest.js';

export interface VerifyResult {
  readonly name: string;
  readonly file: string;
  readonly ok: boolean;
  /** one line per difference, empty when ok */
  readonly problems: string[];
  readonly manifest: StoreManifest;
}

export async function verifyStore(stateDir: string, name: string): Promise<VerifyResult> {
  const manifest = readManifest(stateDir, name);
  const problems: string[] = [];
  const result = (): VerifyResult => ({ name, file: manifest.file, ok: problems.length === 0, problems, manifest });
  let fd: number;
  try {
    fd = fs.openSync(manifest.file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    problems.push((fromNodeError(err, 'open', manifest.file) as Error).message);
    return result();
  }
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
    const n = Math.max(map.segments.length, manifest.segments.length);
    let reported = 0;
    for (let i = 0; i < n && reported < 5; i++) {
      const a = manifest.segments[i];
      const b = map.segments[i];
      if (!a || !b || !sameSegment(a, b)) {
        problems.push(`segment ${i}: manifest ${a ? `${a.length} bytes at device byte ${a.physical}` : 'none'}, now ${b ? `${b.length} bytes at device byte ${b.physical}` : 'none'}`);
        reported++;
      }
    }
  } catch (err) {
    problems.push((err as Error).message);
  } finally {
    fs.closeSync(fd);
  }
  return result();
}
