/**
 * Reading and validating a persistent exception store, exactly as the kernel
 * walks it (dm-snap-persistent.c read_header, read_exceptions,
 * insert_exceptions): areas are read in order while the previous one was full
 * (all epa entries have new_chunk != 0); the first entry with new_chunk == 0
 * ends the table, and nothing after it (in that area or later ones) counts.
 * Every refusal is a SnapstoreError naming the structure, field and offset.
 */
import {
  type Bytes,
  type ChunkSize,
  type Chunks,
  SECTOR_BYTES,
  bytes,
  chunkSize,
  chunks,
  formatBytes,
  sectorsToBytes,
  sectors,
} from '../units/units.js';
import { SnapstoreError } from '../errors.js';
import { DiskException, DiskHeader, HEADER_CHUNKS, Layout, SNAP_MAGIC, SNAPSHOT_DISK_VERSION } from './format.js';
import { MergeRecord, type MergeState } from './merge-record.js';
import type { BlockIo } from './io.js';

export interface CowException {
  readonly oldChunk: Chunks;
  readonly newChunk: Chunks;
}

export interface CowTable {
  readonly storeName: string;
  readonly storeSize: Bytes;
  readonly chunk: ChunkSize;
  readonly layout: Layout;
  /** disk_header.valid: false once the kernel invalidated the snapshot (store full, I/O error). */
  readonly valid: boolean;
  /** In table order: area 0 entry 0 first. */
  readonly exceptions: readonly CowException[];
  /** Metadata areas the kernel reads (the last one is never full). */
  readonly areasRead: number;
  /** The kernel's next_free after reading: what status reports as allocated. */
  readonly nextFree: Chunks;
  /** Our own merge progress record in the header chunk, if any (merge-record.ts). */
  readonly merge: MergeState | undefined;
}

function refuse(code: string, message: string, hint: string): never {
  throw new SnapstoreError(code, message, { hint });
}

/** Where a disk_exception field lies, for messages. */
function entryWhere(layout: Layout, area: number, index: number, field: 'old_chunk' | 'new_chunk'): string {
  const at = layout.offsetOf(layout.areaChunk(area)) + index * DiskException.size + DiskException.fields[field].offset;
  return `disk_exception ${index} of area ${area}, field ${field} at store byte ${at}`;
}

/** Table index `n` as its place on disk. */
function entryName(layout: Layout, n: number): string {
  return `disk_exception ${n % layout.epa} of area ${Math.floor(n / layout.epa)}`;
}

function readHeader(io: BlockIo): { chunk: ChunkSize; valid: boolean; headerChunk: Buffer } {
  if (io.size < SECTOR_BYTES) {
    refuse('COW_TRUNCATED', `${io.name} is ${io.size} bytes: too short to hold a disk_header sector`, 'give the whole store');
  }
  const first = io.read(bytes(0), bytes(SECTOR_BYTES));
  const h = DiskHeader.decode(first, 0, `${io.name} byte 0`);
  if (h.magic === 0) {
    // The kernel takes magic == 0 for a new store and would format it.
    refuse(
      'COW_NEVER_WRITTEN',
      `${io.name} has no exception store: disk_header.magic at byte 0 is 0, so no snapshot ever wrote to it (this is not a store that was merged)`,
      'check that this is the right device or file; a store the kernel used starts with "SnAp"',
    );
  }
  if (h.magic !== SNAP_MAGIC) {
    refuse(
      'COW_BAD_MAGIC',
      `${io.name} is not a persistent exception store: disk_header.magic at byte 0 is 0x${h.magic.toString(16).padStart(8, '0')}, expected 0x${SNAP_MAGIC.toString(16)} ("SnAp")`,
      'check the device or file name; the kernel refuses this store as corrupt too',
    );
  }
  if (h.version !== SNAPSHOT_DISK_VERSION) {
    refuse(
      'COW_BAD_VERSION',
      `${io.name}: disk_header.version at byte 8 is ${h.version}; only version ${SNAPSHOT_DISK_VERSION} exists`,
      'the store is corrupt or from an unknown format',
    );
  }
  const cs = h.chunk_size;
  if (cs === 0 || (cs & (cs - 1)) !== 0 || cs > 2 ** 21) {
    refuse(
      'COW_BAD_CHUNK_SIZE',
      `${io.name}: disk_header.chunk_size at byte 12 is ${cs} sectors; it must be a power of two from 1 to 2097152 sectors`,
      'the header is corrupt',
    );
  }
  const chunk = chunkSize(sectorsToBytes(sectors(cs)));
  if (io.size < chunk.bytes) {
    refuse(
      'COW_TRUNCATED',
      `${io.name} is ${io.size} bytes, shorter than its own ${formatBytes(chunk.bytes)} header chunk`,
      'the store was truncated, or the wrong device was given',
    );
  }
  const headerChunk = chunk.bytes === SECTOR_BYTES ? first : io.read(bytes(0), chunk.bytes);
  return { chunk, valid: h.valid !== 0, headerChunk };
}

/** Reads the header and the whole exception table, refusing anything the kernel would not produce. */
export function readTable(io: BlockIo): CowTable {
  const { chunk, valid, headerChunk } = readHeader(io);
  const layout = new Layout(chunk);
  const storeChunks = Math.floor(io.size / chunk.bytes);
  const exceptions: CowException[] = [];
  const byOld = new Map<number, number>();
  const byNew = new Map<number, number>();
  let nextFree = HEADER_CHUNKS + 1;
  let area = 0;
  for (let full = true; full; area++) {
    const at = layout.areaChunk(area);
    if (at >= storeChunks) {
      refuse(
        'COW_TRUNCATED',
        `${io.name}: the exception table runs off the end of the store: area ${area - 1} is full, so area ${area} must follow at chunk ${at} (byte ${layout.offsetOf(at)}), but the store has ${storeChunks} chunks (${io.size} bytes)`,
        'the store was truncated, or the wrong device was given (the kernel zeroes the next area before filling one)',
      );
    }
    const buf = io.read(layout.offsetOf(at), chunk.bytes);
    full = false;
    for (let i = 0; i < layout.epa; i++) {
      const e = DiskException.decode(buf, i * DiskException.size, `area ${area}`);
      if (e.new_chunk === 0n) break;
      if (i === layout.epa - 1) full = true;
      if (e.new_chunk >= BigInt(storeChunks)) {
        refuse(
          'COW_NEW_CHUNK_BEYOND_STORE',
          `${io.name}: ${entryWhere(layout, area, i, 'new_chunk')} is ${e.new_chunk}, beyond the store's ${storeChunks} chunks`,
          'the store was truncated or is corrupt',
        );
      }
      const newChunk = chunks(e.new_chunk);
      if (layout.isMetadataChunk(newChunk)) {
        refuse(
          'COW_NEW_CHUNK_ON_METADATA',
          `${io.name}: ${entryWhere(layout, area, i, 'new_chunk')} is ${newChunk}, the ${newChunk === 0 ? 'header' : 'metadata area'} chunk`,
          'the store is corrupt (or was written by a tool with the CVE-2013-4299 bug)',
        );
      }
      if (e.old_chunk * BigInt(chunk.bytes) > BigInt(Number.MAX_SAFE_INTEGER)) {
        refuse(
          'COW_OLD_CHUNK_BEYOND_ORIGIN',
          `${io.name}: ${entryWhere(layout, area, i, 'old_chunk')} is ${e.old_chunk}, beyond any device`,
          'the store is corrupt',
        );
      }
      const oldChunk = chunks(e.old_chunk);
      // Maps hold the entry's table index; messages are built only on refusal.
      const n = exceptions.length;
      const seenOld = byOld.get(oldChunk);
      if (seenOld !== undefined) {
        refuse(
          'COW_DUPLICATE_OLD_CHUNK',
          `${io.name}: ${entryWhere(layout, area, i, 'old_chunk')} is ${oldChunk}, already the old_chunk of ${entryName(layout, seenOld)}`,
          'the store is corrupt: one origin chunk can have only one exception',
        );
      }
      const seenNew = byNew.get(newChunk);
      if (seenNew !== undefined) {
        refuse(
          'COW_DUPLICATE_NEW_CHUNK',
          `${io.name}: ${entryWhere(layout, area, i, 'new_chunk')} is ${newChunk}, already the new_chunk of ${entryName(layout, seenNew)}`,
          'the store is corrupt: two exceptions share one data chunk',
        );
      }
      byOld.set(oldChunk, n);
      byNew.set(newChunk, n);
      exceptions.push({ oldChunk, newChunk });
      if (newChunk + 1 > nextFree) nextFree = newChunk + 1;
    }
  }
  // skip_metadata(): next_free never points at a metadata area.
  if (layout.isMetadataChunk(chunks(nextFree))) nextFree++;
  return {
    storeName: io.name,
    storeSize: io.size,
    chunk,
    layout,
    valid,
    exceptions,
    areasRead: area,
    nextFree: chunks(nextFree),
    merge: MergeRecord.read(headerChunk, io.name),
  };
}

/** One extent of the origin device that the store itself occupies (a store of ours). */
export interface OriginRange {
  readonly offset: Bytes;
  readonly length: Bytes;
}

/**
 * Checks a table against the origin it will be applied to: every old_chunk
 * inside the origin, and (for a store living on the origin's own device)
 * none inside the store's extents: merging it would overwrite store data
 * still to be read (DESIGN.md, merge hazard).
 */
export function checkAgainstOrigin(
  table: CowTable,
  origin: { name: string; size: Bytes },
  storeExtents: readonly OriginRange[] = [],
): void {
  const c = table.chunk.bytes;
  const ranges = [...storeExtents].sort((a, b) => a.offset - b.offset);
  table.exceptions.forEach((e, n) => {
    const start = e.oldChunk * c;
    const where = (): string => `exception ${n} (${entryName(table.layout, n)})`;
    if (start >= origin.size) {
      refuse(
        'COW_OLD_CHUNK_BEYOND_ORIGIN',
        `${table.storeName}: ${where()} has old_chunk ${e.oldChunk} (byte ${start}), beyond the end of ${origin.name} (${origin.size} bytes)`,
        'this store belongs to a larger origin: give the origin the snapshot was taken of',
      );
    }
    if (ranges.length === 0) return;
    const end = start + c;
    let lo = 0;
    let hi = ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ranges[mid]!.offset + ranges[mid]!.length <= start) lo = mid + 1;
      else hi = mid;
    }
    const r = ranges[lo];
    if (r !== undefined && r.offset < end) {
      refuse(
        'COW_OLD_CHUNK_IN_STORE',
        `${table.storeName}: ${where()} has old_chunk ${e.oldChunk} (origin bytes ${start}..${end}), inside the store's own extent at origin byte ${r.offset} (${formatBytes(r.length)}); merging it would overwrite store data`,
        'this store is unsafe to merge offline; keep the snapshot and report the bug (store extents must never receive exceptions)',
      );
    }
  });
}
