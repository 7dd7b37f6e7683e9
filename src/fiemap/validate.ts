/**
 * Named refusals for extents that cannot back a raw mapping. Each check is a
 * predicate with its reason, so tests name the one they exercise.
 */
import { SnapstoreError } from '../errors.js';
import { formatBytes, SECTOR_BYTES } from '../units/units.js';
import type { Bytes } from '../units/units.js';
import type { ExtentColumns, RawExtent } from './extent.js';
import type { ExtentFlagName } from './struct.js';
import { EXTENT_FLAGS } from './struct.js';

/** Why each refused fe_flag makes the physical address useless to us. */
export const REFUSED_FLAGS: ReadonlyMap<ExtentFlagName, string> = new Map([
  ['UNKNOWN', 'its location is not known to the filesystem'],
  ['DELALLOC', 'it is not allocated on disk yet (delayed allocation)'],
  ['ENCODED', 'its data is encoded (compressed or otherwise) on disk'],
  ['DATA_ENCRYPTED', 'its data is encrypted on disk'],
  ['NOT_ALIGNED', 'its data is not block-aligned on disk'],
  ['DATA_INLINE', 'its data lives inside filesystem metadata'],
  ['DATA_TAIL', 'its data is packed with other files\' tails'],
  ['SHARED', 'its blocks are shared with another file (reflink or dedup), so writing them raw would change that file too'],
]);

export class ExtentRefusedError extends SnapstoreError {
  constructor(message: string, hint: string) {
    super('EXTENT_REFUSED', message, { hint });
  }
}

const MAP_HINT =
  'the store must be a plain, fully allocated file on ext4 or xfs: create it with `snapstore store create`, or copy it with `cp --reflink=never` and `fallocate`';

function where(path: string, index: number, e: RawExtent): string {
  return `${path}: extent ${index} (file offset ${e.logical}, ${formatBytes(e.length)} at device byte ${e.physical})`;
}

/** Refuses extents whose flags make the device address meaningless. */
const REFUSED_MASK = [...REFUSED_FLAGS.keys()].reduce((m, name) => m | EXTENT_FLAGS[name], 0);

export function checkFlags(path: string, extents: ExtentColumns): void {
  const flags = extents.flags;
  for (let i = 0; i < extents.count; i++) {
    if ((flags[i]! & REFUSED_MASK) === 0) continue;
    for (const [name, reason] of REFUSED_FLAGS) {
      if (flags[i]! & EXTENT_FLAGS[name]) throw new ExtentRefusedError(`${where(path, i, extents.at(i))} is ${name}: ${reason}`, MAP_HINT);
    }
  }
}

/** Refuses extents that are out of order, overlap, or not whole sectors. */
export function checkOrder(path: string, extents: ExtentColumns): void {
  const { logical, physical, length } = extents;
  let end = 0;
  for (let i = 0; i < extents.count; i++) {
    if (logical[i]! < end) throw new ExtentRefusedError(`${where(path, i, extents.at(i))} overlaps or precedes the extent before it`, MAP_HINT);
    if (physical[i]! % SECTOR_BYTES !== 0 || length[i]! % SECTOR_BYTES !== 0 || length[i] === 0) {
      throw new ExtentRefusedError(`${where(path, i, extents.at(i))} is not a whole number of 512-byte sectors`, MAP_HINT);
    }
    end = logical[i]! + length[i]!;
  }
}

/** Refuses a file with holes: every byte up to its size must be allocated. */
export function checkNoHoles(path: string, extents: ExtentColumns, fileSize: Bytes): void {
  const { logical, length } = extents;
  let covered = 0;
  for (let i = 0; i < extents.count; i++) {
    if (logical[i]! > covered) {
      throw new ExtentRefusedError(
        `${path} has a hole at file offset ${covered} (${formatBytes(logical[i]! - covered)} not allocated)`,
        `${MAP_HINT}; a sparse file's holes have no place on the device`,
      );
    }
    covered = Math.max(covered, logical[i]! + length[i]!);
    if (covered >= fileSize) return;
  }
  if (covered < fileSize) {
    throw new ExtentRefusedError(
      `${path} has a hole at file offset ${covered} (${formatBytes(fileSize - covered)} not allocated up to its size)`,
      `${MAP_HINT}; a sparse file's holes have no place on the device`,
    );
  }
}

/** Refuses a map that does not end with FIEMAP_EXTENT_LAST. */
export function checkLast(path: string, extents: ExtentColumns): void {
  if (extents.count > 0 && !(extents.flags[extents.count - 1]! & EXTENT_FLAGS.LAST)) {
    throw new ExtentRefusedError(`${path}: the kernel's extent list did not end with FIEMAP_EXTENT_LAST`, 'retry: the file may be changing');
  }
}

export function validateExtents(path: string, extents: ExtentColumns, fileSize: Bytes): void {
  if (fileSize === 0) throw new ExtentRefusedError(`${path} is empty`, MAP_HINT);
  checkFlags(path, extents);
  checkOrder(path, extents);
  checkNoHoles(path, extents, fileSize);
  checkLast(path, extents);
}
