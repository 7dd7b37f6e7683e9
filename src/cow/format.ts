/**
 * The persistent exception store of dm-snapshot, as the kernel lays it out
 * (drivers/md/dm-snap-persistent.c): little-endian; chunk 0 holds
 * `struct disk_header`; then metadata areas, each one chunk of
 * `struct disk_exception` entries followed by the data chunks it describes.
 */
import { type ChunkSize, type Chunks, chunks, mul, add, chunksToBytes, type Bytes } from '../units/units.js';
import { defineStruct } from './struct.js';

/** 'SnAp' read as a little-endian u32 (SNAP_MAGIC). */
export const SNAP_MAGIC = 0x70416e53;
/** SNAPSHOT_DISK_VERSION: the only version the kernel accepts. */
export const SNAPSHOT_DISK_VERSION = 1;
/** NUM_SNAPSHOT_HDR_CHUNKS. */
export const HEADER_CHUNKS = 1;

/** struct disk_header (dm-snap-persistent.c), __packed. */
export const DiskHeader = defineStruct('disk_header', 16, {
  magic: { offset: 0, type: 'u32' },
  valid: { offset: 4, type: 'u32' },
  version: { offset: 8, type: 'u32' },
  /** In 512-byte sectors. */
  chunk_size: { offset: 12, type: 'u32' },
});

/** struct disk_exception (dm-snap-persistent.c), __packed. */
export const DiskException = defineStruct('disk_exception', 16, {
  old_chunk: { offset: 0, type: 'u64' },
  new_chunk: { offset: 8, type: 'u64' },
});

/**
 * Where areas and data chunks lie for one chunk size. `epa` is
 * exceptions_per_area: one metadata chunk full of disk_exception entries.
 */
export class Layout {
  readonly epa: number;
  constructor(readonly chunk: ChunkSize) {
    this.epa = chunk.bytes / DiskException.size;
  }

  /** area_location(): the chunk holding area N's metadata. */
  areaChunk(area: number): Chunks {
    return add(chunks(HEADER_CHUNKS), mul(chunks(this.epa + 1), area));
  }

  /** The header or a metadata area: never a valid new_chunk. */
  isMetadataChunk(c: Chunks): boolean {
    return c < HEADER_CHUNKS || (c - HEADER_CHUNKS) % (this.epa + 1) === 0;
  }

  /** The data chunk the kernel allocates for entry `index` of `area` when it commits in order. */
  dataChunk(area: number, index: number): Chunks {
    return add(this.areaChunk(area), chunks(1 + index));
  }

  /**
   * Chunks a store needs to hold `exceptions` exceptions: the header, the data chunks, one
   * metadata chunk per area, and the next area's, which the kernel writes before it needs it.
   */
  chunksToHold(exceptions: number): Chunks {
    return chunks(HEADER_CHUNKS + exceptions + Math.ceil(exceptions / this.epa) + 1);
  }

  offsetOf(c: Chunks): Bytes {
    return chunksToBytes(c, this.chunk);
  }
}
