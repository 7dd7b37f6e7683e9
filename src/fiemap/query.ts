/**
 * Reads a file's extents with FS_IOC_FIEMAP, in batches until the kernel
 * marks the last extent. FIEMAP_FLAG_SYNC makes delayed allocations real first.
 */
import type { Bytes } from '../units/units.js';
import { bytes } from '../units/units.js';
import { ioctl } from '../linux/ioctl.js';
import type { RawExtent } from './extent.js';
import { EXTENT_FLAGS, FIEMAP_EXTENT, FIEMAP_FLAG_SYNC, FIEMAP_HEADER, FIEMAP_MAX_OFFSET, FS_IOC_FIEMAP, readU64 } from './struct.js';

/** Extents asked for per call: ~900 KiB of buffer, a few calls for 100k extents. */
const BATCH = 16384;

export interface QueryOptions {
  /** FIEMAP_FLAG_SYNC (default true) */
  sync?: boolean;
  batch?: number;
}

export function queryExtents(fd: number, path: string, options: QueryOptions = {}): RawExtent[] {
  const batch = options.batch ?? BATCH;
  const buf = Buffer.alloc(FIEMAP_HEADER.size + batch * FIEMAP_EXTENT.size);
  const extents: RawExtent[] = [];
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
    if (mapped > batch) throw new RangeError(`FIEMAP on ${path} reported ${mapped} extents for a buffer of ${batch}`);
    if (mapped === 0) return extents;
    let last = false;
    let end: Bytes = bytes(0);
    for (let i = 0; i < mapped; i++) {
      const at = FIEMAP_HEADER.size + i * FIEMAP_EXTENT.size;
      const e: RawExtent = {
        logical: readU64(buf, at + FIEMAP_EXTENT.logical, `extent ${extents.length} fe_logical`) as Bytes,
        physical: readU64(buf, at + FIEMAP_EXTENT.physical, `extent ${extents.length} fe_physical`) as Bytes,
        length: readU64(buf, at + FIEMAP_EXTENT.length, `extent ${extents.length} fe_length`) as Bytes,
        flags: buf.readUInt32LE(at + FIEMAP_EXTENT.flags),
      };
      extents.push(e);
      end = bytes(e.logical + e.length);
      if (e.flags & EXTENT_FLAGS.LAST) last = true;
    }
    if (last) return extents;
    start = BigInt(end);
  }
}
