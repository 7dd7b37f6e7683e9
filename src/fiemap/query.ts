/**
 * Reads a file's extents with FS_IOC_FIEMAP, in batches until the kernel
 * marks the last extent. FIEMAP_FLAG_SYNC makes delayed allocations real first.
 */
import { SnapstoreError } from '../errors.js';
import { ioctl } from '../linux/ioctl.js';
import { ExtentColumns } from './extent.js';
import { EXTENT_FLAGS, FIEMAP_EXTENT, FIEMAP_FLAG_SYNC, FIEMAP_HEADER, FIEMAP_MAX_OFFSET, FS_IOC_FIEMAP } from './struct.js';

/** A little-endian u64 at 32-bit word `w`, refused past 2^53. */
function u64(words: Uint32Array, w: number, path: string, index: number, field: string): number {
  const hi = words[w + 1]!;
  if (hi >= 0x200000) throw new SnapstoreError('OVERFLOW', `FIEMAP on ${path}: extent ${index} ${field} is beyond 2^53`);
  return hi * 0x100000000 + words[w]!;
}

/** Extents asked for per call: ~900 KiB of buffer, a few calls for 100k extents. */
const BATCH = 16384;

export interface QueryOptions {
  /** FIEMAP_FLAG_SYNC (default true) */
  sync?: boolean;
  batch?: number;
}

export function queryExtents(fd: number, path: string, options: QueryOptions = {}): ExtentColumns {
  const batch = options.batch ?? BATCH;
  const buf = Buffer.alloc(FIEMAP_HEADER.size + batch * FIEMAP_EXTENT.size);
  const extents = new ExtentColumns(batch);
  let start = 0n;
  let first = true;
  for (;;) {
    buf.fill(0, 0, FIEMAP_HEADER.size);
    buf.writeBigUInt64LE(start, FIEMAP_HEADER.start);
    buf.writeBigUInt64LE(FIEMAP_MAX_OFFSET - start, FIEMAP_HEADER.length);
    // Sync once: the first call flushes; later calls see a stable file.
    buf.writeUInt32LE(first && options.sync !== false ? FIEMAP_FLAG_SYNC : 0, FIEMAP_HEADER.flags);
    buf.writeUInt32LE(batch, FIEMAP_HEADER.extentCount);
    ioctl(fd, FS_IOC_FIEMAP, buf, 'ioctl(FS_IOC_FIEMAP)', path);
    first = false;
    const mapped = buf.readUInt32LE(FIEMAP_HEADER.mappedExtents);
    if (mapped > batch) throw new SnapstoreError('EXTENT_REFUSED', `FIEMAP on ${path} reported ${mapped} extents for a buffer of ${batch}`, { hint: 'the kernel answered out of bounds: report it with `uname -r`' });
    if (mapped === 0) return extents;
    // Read through a 32-bit view: Buffer.readUInt32LE per field is several
    // times slower, and 100k+ extents make that the cost of the whole map.
    const words = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
    let last = false;
    let end = 0;
    for (let i = 0; i < mapped; i++) {
      const w = (FIEMAP_HEADER.size + i * FIEMAP_EXTENT.size) >>> 2;
      const logical = u64(words, w + (FIEMAP_EXTENT.logical >>> 2), path, extents.count, 'fe_logical');
      const physical = u64(words, w + (FIEMAP_EXTENT.physical >>> 2), path, extents.count, 'fe_physical');
      const length = u64(words, w + (FIEMAP_EXTENT.length >>> 2), path, extents.count, 'fe_length');
      const flags = words[w + (FIEMAP_EXTENT.flags >>> 2)]!;
      extents.push(logical, physical, length, flags);
      end = logical + length;
      if (flags & EXTENT_FLAGS.LAST) last = true;
    }
    if (last) return extents;
    if (!Number.isSafeInteger(end)) throw new SnapstoreError('OVERFLOW', `FIEMAP on ${path}: extent end ${end} is beyond 2^53`);
    start = BigInt(end);
  }
}
