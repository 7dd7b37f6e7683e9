/**
 * Copying exception chunks from a store to an origin (or an image of it) with
 * as few I/Os as the pattern allows: the store is read in large sequential
 * runs (an area's data chunks follow it, so a table's data is nearly
 * contiguous), and the origin is written in runs of neighbouring chunks,
 * sorted by origin position.
 */
import { type Bytes, type ChunkSize, bytes } from '../units/units.js';
import { SnapstoreError } from '../errors.js';
import type { BlockIo } from './io.js';
import type { CowException } from './table.js';

export interface CopyLimits {
  /** Largest single read of the store. */
  readonly maxReadBytes: Bytes;
  /** Largest single write to the origin. */
  readonly maxWriteBytes: Bytes;
}

export const DEFAULT_LIMITS: CopyLimits = { maxReadBytes: bytes(8 << 20), maxWriteBytes: bytes(8 << 20) };

/** Reading through up to this many unneeded bytes beats a second read (one metadata chunk, small holes). */
const READ_GAP_BYTES = 64 << 10;

/** One write to the origin: consecutive chunks starting at origin byte `offset`. */
export interface WriteRun {
  readonly offset: Bytes;
  readonly exceptions: readonly CowException[];
  /** Bytes written: the last chunk of an origin whose size is not a chunk multiple is cut short. */
  readonly length: Bytes;
}

/** The origin writes for a set of exceptions: sorted by old_chunk, neighbours coalesced. */
export function planWrites(
  exceptions: readonly CowException[],
  chunk: ChunkSize,
  originSize: Bytes,
  limits: CopyLimits = DEFAULT_LIMITS,
): WriteRun[] {
  const sorted = [...exceptions].sort((a, b) => a.oldChunk - b.oldChunk);
  const perRun = Math.max(1, Math.floor(limits.maxWriteBytes / chunk.bytes));
  const runs: WriteRun[] = [];
  let i = 0;
  while (i < sorted.length) {
    let j = i + 1;
    while (j < sorted.length && j - i < perRun && sorted[j]!.oldChunk === sorted[j - 1]!.oldChunk + 1) j++;
    const offset = sorted[i]!.oldChunk * chunk.bytes;
    const end = Math.min((sorted[j - 1]!.oldChunk + 1) * chunk.bytes, originSize);
    runs.push({ offset: bytes(offset), exceptions: sorted.slice(i, j), length: bytes(end - offset) });
    i = j;
  }
  return runs;
}

/** Where each exception's data sits after `readData`. */
export type ChunkData = Map<CowException, Buffer>;

/** Reads the data chunks of `exceptions` from the store in large sequential runs. */
export function readData(
  store: BlockIo,
  exceptions: readonly CowException[],
  chunk: ChunkSize,
  limits: CopyLimits = DEFAULT_LIMITS,
): { data: ChunkData; reads: number } {
  const sorted = [...exceptions].sort((a, b) => a.newChunk - b.newChunk);
  const maxGap = Math.max(1, Math.floor(READ_GAP_BYTES / chunk.bytes));
  const perRead = Math.max(1, Math.floor(limits.maxReadBytes / chunk.bytes));
  const data: ChunkData = new Map();
  let reads = 0;
  let i = 0;
  while (i < sorted.length) {
    const first = sorted[i]!.newChunk;
    let j = i + 1;
    while (
      j < sorted.length &&
      sorted[j]!.newChunk - sorted[j - 1]!.newChunk <= maxGap &&
      sorted[j]!.newChunk - first < perRead
    ) {
      j++;
    }
    const span = sorted[j - 1]!.newChunk - first + 1;
    let buf: Buffer;
    try {
      buf = store.read(bytes(first * chunk.bytes), bytes(span * chunk.bytes));
    } catch (err) {
      throw ioFailure(err, `reading store chunks ${first}..${first + span - 1} of ${store.name}`);
    }
    reads++;
    for (let k = i; k < j; k++) {
      const at = (sorted[k]!.newChunk - first) * chunk.bytes;
      data.set(sorted[k]!, buf.subarray(at, at + chunk.bytes));
    }
    i = j;
  }
  return { data, reads };
}

/**
 * The bytes of one write run, gathered from the read buffers. A run of
 * several chunks is copied into `scratch` (at least maxWriteBytes long), so
 * the result is valid only until the next call with the same scratch.
 */
export function runBytes(run: WriteRun, data: ChunkData, scratch: Buffer): Buffer {
  const chunkOf = (e: CowException): Buffer => {
    const d = data.get(e);
    if (d === undefined) throw new Error(`no data read for old_chunk ${e.oldChunk}`);
    return d;
  };
  if (run.exceptions.length === 1) return chunkOf(run.exceptions[0]!).subarray(0, run.length);
  let at = 0;
  for (const e of run.exceptions) at += chunkOf(e).copy(scratch, at);
  return scratch.subarray(0, run.length);
}

/** An I/O error during a copy, naming the chunks; the cause keeps the errno. */
export function ioFailure(err: unknown, what: string): SnapstoreError {
  const reason = err instanceof Error ? err.message : String(err);
  return new SnapstoreError('COW_IO', `${what} failed: ${reason}`, {
    hint: 'nothing was marked merged past the last completed batch: fix the device and run the same command again, it resumes',
    cause: err,
  });
}
