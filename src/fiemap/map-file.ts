/**
 * A file's store map: its extents read with FIEMAP, refused where unusable,
 * coalesced, and aligned to the chunk size on its filesystem's device.
 */
import * as fs from 'node:fs';
import type { Bytes, ChunkSize } from '../units/units.js';
import { bytes, formatBytes, plural } from '../units/units.js';
import { SnapstoreError } from '../errors.js';
import { fromNodeError } from '../linux/errors.js';
import type { FsInfo } from '../linux/fs.js';
import { fstatfs } from '../linux/fs.js';
import type { DeviceNumber } from '../linux/device-number.js';
import { fromDevT } from '../linux/device-number.js';
import type { AlignedMap } from './align.js';
import { alignToChunks } from './align.js';
import { coalesce } from './coalesce.js';
import type { ExtentColumns } from './extent.js';
import { checkFilesystem } from './filesystems.js';
import { queryExtents } from './query.js';
import { validateExtents } from './validate.js';

export interface FileMap extends AlignedMap {
  readonly path: string;
  /** the device the file's filesystem is on (st_dev) */
  readonly device: DeviceNumber;
  readonly filesystem: FsInfo;
  readonly fileSize: Bytes;
  readonly inode: number;
  /** extents as FIEMAP gave them (before coalescing) */
  readonly rawExtentCount: number;
  /** extents after coalescing, before alignment */
  readonly extents: ExtentColumns;
}

/** Maps an open file. */
export function mapOpenFile(fd: number, path: string, chunk: ChunkSize): FileMap {
  let st: fs.BigIntStats;
  try {
    st = fs.fstatSync(fd, { bigint: true });
  } catch (err) {
    throw fromNodeError(err, 'fstat', path);
  }
  if (!st.isFile()) {
    throw new SnapstoreError('NOT_A_FILE', `${path} is not a regular file${st.isDirectory() ? ' (it is a directory)' : ''}`, {
      hint: 'give the path of the store file itself',
    });
  }
  const filesystem = fstatfs(fd, path);
  checkFilesystem(path, filesystem);
  const fileSize = bytes(st.size);
  const raw = queryExtents(fd, path);
  validateExtents(path, raw, fileSize);
  const extents = coalesce(raw, fileSize);
  const aligned = alignToChunks(extents, chunk);
  return {
    path,
    device: fromDevT(st.dev),
    filesystem,
    fileSize,
    inode: Number(st.ino),
    rawExtentCount: raw.count,
    extents,
    columns: aligned.columns,
    get segments() {
      return aligned.segments;
    },
    droppedBytes: aligned.droppedBytes,
    usableBytes: aligned.usableBytes,
  };
}

/** Opens a file read-only (never following a final symlink) and maps it. */
export function mapFile(path: string, chunk: ChunkSize): FileMap {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    throw fromNodeError(err, 'open', path);
  }
  try {
    return mapOpenFile(fd, path, chunk);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Maps a file for a `linear` table: the same, refusing a map with no whole
 * chunk aligned on the device (there would be no table to print).
 */
export function mapFileForTable(path: string, chunk: ChunkSize): FileMap {
  const map = mapFile(path, chunk);
  if (map.columns.count === 0) {
    throw new SnapstoreError('EMPTY_MAP', `${path} has no whole ${formatBytes(chunk.bytes)} chunk aligned on its device (${map.fileSize} bytes in ${plural(map.extents.count, 'extent')})`, {
      hint: 'a store must be at least a few chunks; use a smaller --chunk-size or a larger file',
    });
  }
  return map;
}
