/**
 * Opening what the offline tools (inspect, merge, export) read and write: an
 * origin, and a store given as a device or image (`--cow`) or as one of ours
 * by name (`--store`). Each refusal here prevents a wrong answer or lost data.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FileIo } from '../cow/file-io.js';
import type { BlockIo } from '../cow/io.js';
import type { OriginRange } from '../cow/table.js';
import { SnapstoreError } from '../errors.js';
import { EXTENT_FLAGS } from '../fiemap/struct.js';
import { queryExtents } from '../fiemap/query.js';
import { isErrno } from '../linux/errors.js';
import { readManifest } from './manifest.js';
import { openManifestStore } from './raw-device.js';
import { listStores } from './list.js';
import { deviceMapperIfPresent } from './dm-presence.js';
import { originRangesOver } from './overlap.js';
import { fromDevT } from '../linux/device-number.js';

export interface StoreSource {
  readonly io: BlockIo;
  /**
   * The ranges of `origin` that hold this store's own blocks (none for a
   * store that is not ours, or an origin elsewhere): a merge must never write there.
   */
  storeRangesOn(origin: string, originSize: number): OriginRange[];
}

function openOrExplain(file: string, what: string, options: { writable?: boolean; exclusive?: boolean }): FileIo {
  try {
    return FileIo.open(file, options);
  } catch (err) {
    if (isErrno(err, 'EBUSY')) {
      throw new SnapstoreError('DEVICE_IN_USE', `${what} ${file} is in use: a filesystem is mounted on it, or a dm or loop device holds it (open with O_EXCL: EBUSY)`, {
        hint: `an offline tool must be the only user of the device: unmount it (findmnt ${file}) or remove what is stacked on it (lsblk ${file}), then run this again`,
      });
    }
    if (isErrno(err, 'ENOENT')) {
      throw new SnapstoreError('NO_SUCH_FILE', `${what} ${file} does not exist`, { hint: 'check the path' });
    }
    if (isErrno(err, 'EISDIR')) {
      throw new SnapstoreError('IS_A_DIRECTORY', `${what} ${file} is a directory`, { hint: 'give an image file or a block device' });
    }
    throw err;
  }
}

/**
 * The origin of a merge (a block device opened exclusively: refused while
 * mounted or held), or of an export (only read, so a mounted read-only system
 * partition can be exported).
 */
export function openOrigin(file: string, writable: boolean, exclusive = writable): FileIo {
  return openOrExplain(file, 'origin', { writable, exclusive });
}

/** The name of our store whose file is `file`, if any (damaged manifests name nothing). */
function ourStoreNamed(stateDir: string, file: string): string | undefined {
  const real = fs.realpathSync(file);
  return listStores(stateDir).find((s) => s.manifest?.file === real)?.name;
}

/**
 * Refuses a regular file with unwritten extents: the filesystem reads those as
 * zeros, while the kernel wrote the store's real data beneath it (DESIGN.md,
 * FIEMAP). Reading it would report an empty store, a wrong answer.
 */
function refuseUnwritten(file: string, stateDir: string): void {
  const fd = fs.openSync(file, 'r');
  let unwritten = false;
  try {
    const ext = queryExtents(fd, file, { sync: false });
    for (let i = 0; i < ext.count && !unwritten; i++) unwritten = (ext.flags[i]! & EXTENT_FLAGS.UNWRITTEN) !== 0;
  } catch {
    // no FIEMAP here (tmpfs, a pipe): nothing is hidden from a plain read then
  } finally {
    fs.closeSync(fd);
  }
  if (!unwritten) return;
  const ours = ourStoreNamed(stateDir, file);
  throw new SnapstoreError(
    'STORE_FILE_UNWRITTEN',
    `${file} has unwritten extents: read through the filesystem they are zeros, not what the kernel wrote beneath it, so its store cannot be read this way`,
    {
      hint: ours
        ? `it is snapstore's store "${ours}": use --store ${ours} (read raw through its map)`
        : 'give the device the store lives on (e.g. /dev/mapper/snapstore-NAME-cow) or --store NAME for one of ours',
    },
  );
}

/** A store given as a device or image (`--cow`) or as one of ours (`--store`). */
export async function openStoreSource(
  source: { cow?: string; store?: string; stateDir: string },
  writable: boolean,
): Promise<StoreSource> {
  if ((source.cow === undefined) === (source.store === undefined)) {
    throw new SnapstoreError('USAGE_STORE', 'give exactly one of --cow DEV_OR_IMAGE and --store NAME', {
      hint: '--cow for any store (an image or a device); --store for a store snapstore created',
      usage: true,
    });
  }
  if (source.store !== undefined) {
    const m = readManifest(source.stateDir, source.store);
    const raw = await openManifestStore(m, writable);
    return {
      io: raw.store,
      storeRangesOn(origin, originSize) {
        const st = fs.statSync(origin);
        if (!st.isBlockDevice()) return [];
        const dm = deviceMapperIfPresent();
        try {
          return originRangesOver(dm, { dev: fromDevT(st.rdev), size: originSize }, raw.deviceNumber, m.segments.map((s) => ({ offset: s.physical, length: s.length })));
        } finally {
          dm?.close();
        }
      },
    };
  }
  const file = path.resolve(source.cow!);
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (st?.isFile()) refuseUnwritten(file, source.stateDir);
  return { io: openOrExplain(file, 'store', { writable, exclusive: writable }), storeRangesOn: () => [] };
}
