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
import { type ErrorCode, SnapstoreError } from '../errors.js';
import { DiskException, DiskHeader, HEADER_CHUNKS, Layout, SNAP_MAGIC, SNAPSHOT_DISK_VERSION } from './format.js';
import { MergeRecord, type MergeState } from './merge-record.js';
import { readU64Number } from './struct.js';
import { firstRepeat, sortedPositions } from './order.js';
import type { BlockIo } from '../blockio/block-io.js';
import type { Range } from '../units/range.js';
import { firstEndingAfter } from '../util/bisect.js';

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
  /** Exceptions in the table. */
  readonly count: number;
  /**
   * old_chunk and new_chunk of each exception as columns, in table order
   * (area 0 entry 0 first), each value checked below 2^53: a merge of tens
   * of thousands of exceptions works on these without an object per entry.
   */
  readonly oldChunks: Float64Array;
  readonly newChunks: Float64Array;
  /** Table positions in ascending old_chunk order, and in ascending new_chunk order (order.ts). */
  readonly byOld: Uint32Array;
  readonly byNew: Uint32Array;
  /** The same exceptions as objects, built on first use (reports, tests). */
  readonly exceptions: readonly CowException[];
  /** Metadata areas the kernel reads (the last one is never full). */
  readonly areasRead: number;
  /** The kernel's next_free after reading: what status reports as allocated. */
  readonly nextFree: Chunks;
  /** Our own merge progress record in the header chunk, if any (merge-record.ts). */
  readonly merge: MergeState | undefined;
}

function refuse(code: ErrorCode, message: string, hint: string): never {
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

const OLD_AT = DiskException.fields.old_chunk.offset;
const NEW_AT = DiskException.fields.new_chunk.offset;

/** Column storage that doubles as the table grows: its length is not known until the end. */
function grown(column: Float64Array): Float64Array {
  const bigger = new Float64Array(column.length * 2);
  bigger.set(column);
  return bigger;
}

/**
 * Refuses the first entry (in table order) that repeats an earlier entry's
 * old_chunk or new_chunk; old_chunk first within one entry, as the walk
 * checks it first.
 */
function refuseRepeats(io: BlockIo, layout: Layout, olds: Float64Array, byOld: Uint32Array, news: Float64Array, byNew: Uint32Array): void {
  const old = firstRepeat(olds, byOld);
  const neu = firstRepeat(news, byNew);
  if (old !== undefined && (neu === undefined || old.at <= neu.at)) {
    const n = old.at;
    refuse(
      'COW_DUPLICATE_OLD_CHUNK',
      `${io.name}: ${entryWhere(layout, Math.floor(n / layout.epa), n % layout.epa, 'old_chunk')} is ${olds[n]}, already the old_chunk of ${entryName(layout, old.earlier)}`,
      'the store is corrupt: one origin chunk can have only one exception',
    );
  }
  if (neu !== undefined) {
    const n = neu.at;
    refuse(
      'COW_DUPLICATE_NEW_CHUNK',
      `${io.name}: ${entryWhere(layout, Math.floor(n / layout.epa), n % layout.epa, 'new_chunk')} is ${news[n]}, already the new_chunk of ${entryName(layout, neu.earlier)}`,
      'the store is corrupt: two exceptions share one data chunk',
    );
  }
}

/** What ended the walk before the table's end; reported once repeats before it are ruled out. */
type Stop =
  | { readonly kind: 'truncated'; readonly area: number }
  | { readonly kind: 'unreadable'; readonly error: unknown }
  | { readonly kind: 'new-beyond-store' | 'new-on-metadata' | 'old-beyond-device'; readonly area: number; readonly index: number; readonly buf: Buffer };

function refuseStop(io: BlockIo, layout: Layout, storeChunks: number, stop: Stop): never {
  if (stop.kind === 'unreadable') throw stop.error;
  if (stop.kind === 'truncated') {
    const at = layout.areaChunk(stop.area);
    refuse(
      'COW_TRUNCATED',
      `${io.name}: the exception table runs off the end of the store: area ${stop.area - 1} is full, so area ${stop.area} must follow at chunk ${at} (byte ${layout.offsetOf(at)}), but the store has ${storeChunks} chunks (${io.size} bytes)`,
      'the store was truncated, or the wrong device was given (the kernel zeroes the next area before filling one)',
    );
  }
  const e = DiskException.decode(stop.buf, stop.index * DiskException.size, `area ${stop.area}`);
  const where = (field: 'old_chunk' | 'new_chunk'): string => entryWhere(layout, stop.area, stop.index, field);
  if (stop.kind === 'new-beyond-store') {
    refuse('COW_NEW_CHUNK_BEYOND_STORE', `${io.name}: ${where('new_chunk')} is ${e.new_chunk}, beyond the store's ${storeChunks} chunks`, 'the store was truncated or is corrupt');
  }
  if (stop.kind === 'new-on-metadata') {
    refuse(
      'COW_NEW_CHUNK_ON_METADATA',
      `${io.name}: ${where('new_chunk')} is ${e.new_chunk}, the ${e.new_chunk === 0n ? 'header' : 'metadata area'} chunk`,
      'the store is corrupt (or was written by a tool with the CVE-2013-4299 bug)',
    );
  }
  refuse('COW_OLD_CHUNK_BEYOND_ORIGIN', `${io.name}: ${where('old_chunk')} is ${e.old_chunk}, beyond any device`, 'the store is corrupt');
}

/** Reads the header and the whole exception table, refusing anything the kernel would not produce. */
export function readTable(io: BlockIo): CowTable {
  const { chunk, valid, headerChunk } = readHeader(io);
  const layout = new Layout(chunk);
  const storeChunks = Math.floor(io.size / chunk.bytes);
  let olds: Float64Array = new Float64Array(layout.epa);
  let news: Float64Array = new Float64Array(layout.epa);
  let n = 0;
  // The walk checks each entry alone; repeats are found afterwards by
  // sorting (a map of every chunk costs more than the rest of the walk).
  // What stops the walk waits for that check, so the first bad entry in
  // table order is the one reported, as an entry-by-entry walk would.
  let stop: Stop | undefined;
  let nextFree = HEADER_CHUNKS + 1;
  let area = 0;
  walk: for (let full = true; full; area++) {
    const at = layout.areaChunk(area);
    if (at >= storeChunks) {
      stop = { kind: 'truncated', area };
      break;
    }
    let buf: Buffer;
    try {
      buf = io.read(layout.offsetOf(at), chunk.bytes);
    } catch (error) {
      stop = { kind: 'unreadable', error };
      break;
    }
    full = false;
    const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
    for (let i = 0; i < layout.epa; i++) {
      const entry = i * DiskException.size;
      const newChunk = readU64Number(view, entry + NEW_AT);
      if (newChunk === 0) break;
      if (i === layout.epa - 1) full = true;
      const oldChunk = readU64Number(view, entry + OLD_AT);
      const bad =
        newChunk >= storeChunks
          ? 'new-beyond-store'
          : layout.isMetadataChunk(newChunk as Chunks)
            ? 'new-on-metadata'
            : oldChunk * chunk.bytes > Number.MAX_SAFE_INTEGER
              ? 'old-beyond-device'
              : undefined;
      if (bad !== undefined) {
        stop = { kind: bad, area, index: i, buf };
        break walk;
      }
      if (n === olds.length) {
        olds = grown(olds);
        news = grown(news);
      }
      olds[n] = oldChunk;
      news[n] = newChunk;
      n++;
      if (newChunk + 1 > nextFree) nextFree = newChunk + 1;
    }
  }
  const oldChunks = olds.subarray(0, n);
  const newChunks = news.subarray(0, n);
  const byOld = sortedPositions(oldChunks);
  const byNew = sortedPositions(newChunks);
  refuseRepeats(io, layout, oldChunks, byOld, newChunks, byNew);
  if (stop !== undefined) refuseStop(io, layout, storeChunks, stop);
  // skip_metadata(): next_free never points at a metadata area.
  if (layout.isMetadataChunk(chunks(nextFree))) nextFree++;
  let list: CowException[] | undefined;
  return {
    storeName: io.name,
    storeSize: io.size,
    chunk,
    layout,
    valid,
    count: n,
    oldChunks,
    newChunks,
    byOld,
    byNew,
    get exceptions() {
      list ??= Array.from(oldChunks, (old, k) => ({ oldChunk: chunks(old), newChunk: chunks(newChunks[k]!) }));
      return list;
    },
    areasRead: area,
    nextFree: chunks(nextFree),
    merge: MergeRecord.read(headerChunk, io.name),
  };
}

/**
 * Checks a table against the origin it will be applied to: every old_chunk
 * inside the origin, and (for a store living on the origin's own device)
 * none inside the store's extents (ranges of the origin, in bytes): merging it would overwrite store data
 * still to be read (docs/design.md, merge hazard).
 */
export function checkAgainstOrigin(
  table: CowTable,
  origin: { name: string; size: Bytes },
  storeExtents: readonly Range<Bytes>[] = [],
): void {
  const c = table.chunk.bytes;
  const ranges = [...storeExtents].sort((a, b) => a.offset - b.offset);
  const olds = table.oldChunks;
  for (let n = 0; n < table.count; n++) {
    const oldChunk = olds[n]!;
    const start = oldChunk * c;
    const where = (): string => `exception ${n} (${entryName(table.layout, n)})`;
    if (start >= origin.size) {
      refuse(
        'COW_OLD_CHUNK_BEYOND_ORIGIN',
        `${table.storeName}: ${where()} has old_chunk ${oldChunk} (byte ${start}), beyond the end of ${origin.name} (${origin.size} bytes)`,
        'this store belongs to a larger origin: give the origin the snapshot was taken of',
      );
    }
    if (ranges.length === 0) continue;
    const end = start + c;
    const r = ranges[firstEndingAfter(ranges, (x) => x.offset + x.length, start)];
    if (r !== undefined && r.offset < end) {
      refuse(
        'COW_OLD_CHUNK_IN_STORE',
        `${table.storeName}: ${where()} has old_chunk ${oldChunk} (origin bytes ${start}..${end}), inside the store's own extent at origin byte ${r.offset} (${formatBytes(r.length)}); merging it would overwrite store data`,
        'this store is unsafe to merge offline; keep the snapshot and report the bug (store extents must never receive exceptions)',
      );
    }
  }
}
