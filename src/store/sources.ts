/**
 * Opening what the offline tools (inspect, merge, export) read and write: an
 * origin, and a store given as a device or image (`--cow`) or as one of ours
 * by name (`--store`). Each refusal here prevents a wrong answer or lost data.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BlockIo } from '../blockio/block-io.js';
import { FileIo } from '../blockio/file-io.js';
import type { DeviceMapperApi } from '../dm/api.js';
import { deviceMapperIfPresent } from '../dm/presence.js';
import { SnapstoreError } from '../errors.js';
import { queryExtents } from '../fiemap/query.js';
import { EXTENT_FLAGS } from '../fiemap/struct.js';
import { fromDevT } from '../linux/device-number.js';
import { isErrno } from '../linux/errors.js';
import { StateDir } from '../state/state-dir.js';
import type { Range } from '../units/range.js';
import type { Bytes } from '../units/units.js';
import { findManifest, readManifest } from './manifest.js';
import { originRangesOver } from './overlap.js';
import { openManifestStore } from './raw-device.js';

export interface StoreSource {
  readonly io: BlockIo;
  /** the store as given: a path (`--cow`) or our store's name (`--store`) */
  readonly given: { readonly cow: string } | { readonly store: string };
  /**
   * The ranges of `origin` that hold this store's own blocks (none for a
   * store that is not ours, or an origin elsewhere): a merge must never write there.
   */
  storeRangesOn(origin: string, originSize: Bytes): Range<Bytes>[];
}

export interface SourceOptions {
  readonly cow?: string | undefined;
  readonly store?: string | undefined;
  readonly stateDir: string;
  readonly dm?: DeviceMapperApi;
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

/** The name of our store whose file is `file`, if any (damaged manifests and a state directory we may not read name nothing). */
function ourStoreNamed(stateDir: string, file: string): string | undefined {
  try {
    const dir = StateDir.find(stateDir);
    const folder = dir?.folder('stores');
    if (!dir || !folder) return undefined;
    const real = fs.realpathSync(file);
    return fs
      .readdirSync(folder)
      .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
      .map((f) => f.slice(0, -'.json'.length))
      .find((name) => findManifest(dir, name)?.file === real);
  } catch {
    return undefined;
  }
}

/**
 * Refuses a regular file with unwritten extents: the filesystem reads those as
 * zeros, while the kernel wrote the store's real data beneath it (docs/design.md,
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
export async function openStoreSource(source: SourceOptions, writable: boolean): Promise<StoreSource> {
  if ((source.cow === undefined) === (source.store === undefined)) {
    throw new SnapstoreError('USAGE_STORE', 'give exactly one of --cow DEV_OR_IMAGE and --store NAME', {
      hint: '--cow for any store (an image or a device); --store for a store snapstore created',
      usage: true,
    });
  }
  if (source.store !== undefined) {
    const name = source.store;
    const m = readManifest(StateDir.need(source.stateDir), name);
    const raw = await openManifestStore(m, writable);
    return {
      io: raw.store,
      given: { store: name },
      storeRangesOn(origin, originSize) {
        const st = fs.statSync(origin);
        if (!st.isBlockDevice()) return [];
        const dm = source.dm ?? deviceMapperIfPresent();
        try {
          return originRangesOver(dm, { dev: fromDevT(st.rdev), size: originSize }, raw.deviceNumber, m.segments.map((s) => ({ offset: s.physical, length: s.length })));
        } finally {
          if (!source.dm) dm?.close();
        }
      },
    };
  }
  const file = path.resolve(source.cow!);
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (st?.isFile()) refuseUnwritten(file, source.stateDir);
  return { io: openOrExplain(file, 'store', { writable, exclusive: writable }), given: { cow: file }, storeRangesOn: () => [] };
}
