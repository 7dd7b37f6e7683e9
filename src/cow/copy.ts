/**
 * Copying exception chunks from a store to an origin (or an image of it) with
 * as few I/Os as the pattern allows: the store is read in large sequential
 * runs (an area's data chunks follow it, so a table's data is nearly
 * contiguous), and the origin is written in runs of neighbouring chunks,
 * sorted by origin position.
 */
import { type Bytes, type ChunkSize, bytes } from '../units/units.js';
import { SnapstoreError } from '../errors.js';
import type { BlockIo } from '../blockio/block-io.js';
import { rangeOrder } from './order.js';
import type { CowTable } from './exception-table.js';

export interface CopyLimits {
  /** Largest single read of the store. */
  readonly maxReadBytes: Bytes;
  /** Largest single write to the origin. */
  readonly maxWriteBytes: Bytes;
}

export const DEFAULT_LIMITS: CopyLimits = { maxReadBytes: bytes(8 << 20), maxWriteBytes: bytes(8 << 20) };

/** Reading through up to this many unneeded bytes beats a second read (one metadata chunk, small holes). */
const READ_GAP_BYTES = 64 << 10;

/**
 * The origin writes for a batch of exceptions, given by their old_chunk
 * column and its positions in ascending old_chunk order (order.ts): runs of
 * neighbouring chunks.
 */
export class WritePlan {
  /** Run r writes the chunks of order[begin[r]] .. order[begin[r + 1] - 1]. */
  private readonly begin: Uint32Array;
  readonly runs: number;

  constructor(
    private readonly olds: Float64Array,
    readonly order: Uint32Array,
    readonly chunk: ChunkSize,
    private readonly originSize: Bytes,
    limits: CopyLimits = DEFAULT_LIMITS,
  ) {
    const perRun = Math.max(1, Math.floor(limits.maxWriteBytes / chunk.bytes));
    const begin = new Uint32Array(olds.length + 1);
    let runs = 0;
    for (let i = 0; i < olds.length; runs++) {
      begin[runs] = i;
      let j = i + 1;
      while (j < olds.length && j - i < perRun && olds[order[j]!] === olds[order[j - 1]!]! + 1) j++;
      i = j;
    }
    begin[runs] = olds.length;
    this.begin = begin;
    this.runs = runs;
  }

  /** Chunks in run r. */
  chunks(r: number): number {
    return this.begin[r + 1]! - this.begin[r]!;
  }
  /** First position (in `order`) of run r. */
  first(r: number): number {
    return this.begin[r]!;
  }
  firstOld(r: number): number {
    return this.olds[this.order[this.begin[r]!]!]!;
  }
  lastOld(r: number): number {
    return this.olds[this.order[this.begin[r + 1]! - 1]!]!;
  }
  offset(r: number): Bytes {
    return bytes(this.firstOld(r) * this.chunk.bytes);
  }
  /** Bytes written: the last chunk of an origin whose size is not a chunk multiple is cut short. */
  length(r: number): Bytes {
    return bytes(Math.min((this.lastOld(r) + 1) * this.chunk.bytes, this.originSize) - this.firstOld(r) * this.chunk.bytes);
  }
}

/**
 * A batch's data as read from the store: position k's chunk is at byte
 * at[k] of buffers[source[k]]. Columns, not a buffer per chunk: tens of
 * thousands of small objects cost more in GC than the copy they save.
 */
export interface BatchData {
  readonly buffers: readonly Buffer[];
  readonly source: Uint32Array;
  readonly at: Uint32Array;
  readonly reads: number;
}

/**
 * Reads the data chunks of a batch, given by its new_chunk column and its
 * positions in ascending new_chunk order, from the store in large sequential runs.
 */
export function readData(store: BlockIo, news: Float64Array, order: Uint32Array, chunk: ChunkSize, limits: CopyLimits = DEFAULT_LIMITS): BatchData {
  const c = chunk.bytes;
  const maxGap = Math.max(1, Math.floor(READ_GAP_BYTES / c));
  const perRead = Math.max(1, Math.floor(limits.maxReadBytes / c));
  const buffers: Buffer[] = [];
  const source = new Uint32Array(news.length);
  const at = new Uint32Array(news.length);
  let i = 0;
  while (i < order.length) {
    const first = news[order[i]!]!;
    let j = i + 1;
    while (j < order.length && news[order[j]!]! - news[order[j - 1]!]! <= maxGap && news[order[j]!]! - first < perRead) j++;
    const span = news[order[j - 1]!]! - first + 1;
    try {
      buffers.push(store.read(bytes(first * c), bytes(span * c)));
    } catch (err) {
      throw ioFailure(err, `reading store chunks ${first}..${first + span - 1} of ${store.name}`);
    }
    for (let k = i; k < j; k++) {
      source[order[k]!] = buffers.length - 1;
      at[order[k]!] = (news[order[k]!]! - first) * c;
    }
    i = j;
  }
  return { buffers, source, at, reads: buffers.length };
}

/**
 * The bytes of run r. Chunks that lie one after another in one read buffer
 * (exceptions the kernel allocated in origin order, as a sequential write
 * leaves them) are written from it as they are; others are gathered into
 * `scratch` (at least maxWriteBytes long), valid until the next call with it.
 */
export function runBytes(plan: WritePlan, r: number, data: BatchData, scratch: Buffer): Buffer {
  const { order } = plan;
  const c = plan.chunk.bytes;
  const from = plan.first(r);
  const to = from + plan.chunks(r);
  const length = plan.length(r);
  const head = order[from]!;
  const buffer = data.source[head]!;
  let contiguous = true;
  for (let x = from + 1; x < to && contiguous; x++) {
    const k = order[x]!;
    contiguous = data.source[k] === buffer && data.at[k] === data.at[head]! + (x - from) * c;
  }
  if (contiguous) return data.buffers[buffer]!.subarray(data.at[head]!, data.at[head]! + length);
  for (let x = from; x < to; x++) {
    const k = order[x]!;
    data.buffers[data.source[k]!]!.copy(scratch, (x - from) * c, data.at[k]!, data.at[k]! + c);
  }
  return scratch.subarray(0, length);
}

/** An I/O error during a copy, naming the chunks; the cause keeps the errno. */
export function ioFailure(err: unknown, what: string): SnapstoreError {
  const reason = err instanceof Error ? err.message : String(err);
  return new SnapstoreError('COW_IO', `${what} failed: ${reason}`, {
    hint: 'nothing was marked merged past the last completed batch: fix the device and run the same command again, it resumes',
    cause: err,
  });
}

/**
 * One batch of a table, entries [start, end): its data read from the store in
 * large runs, and the origin writes planned, sorted and coalesced. Merge and
 * export both copy this way; they differ in what they write to and commit.
 */
export function readBatch(
  store: BlockIo,
  table: CowTable,
  start: number,
  end: number,
  originSize: Bytes,
  limits: CopyLimits,
): { data: BatchData; plan: WritePlan } {
  const data = readData(store, table.newChunks.subarray(start, end), rangeOrder(table.newChunks, table.byNew, start, end), table.chunk, limits);
  const plan = new WritePlan(table.oldChunks.subarray(start, end), rangeOrder(table.oldChunks, table.byOld, start, end), table.chunk, originSize, limits);
  return { data, plan };
}
