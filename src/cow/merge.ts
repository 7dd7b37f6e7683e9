/**
 * Offline merge: writes every exception's chunk from the store back to the
 * origin, without the kernel.
 *
 * Progress lives in the store's own table, consumed from the end like the
 * kernel's snapshot-merge (persistent_commit_merge): the table is cut into
 * batches (suffixes), and for each batch
 *   1. its data is read from the store in large sequential runs,
 *   2. written to the origin sorted by origin chunk, neighbours coalesced,
 *   3. the origin is flushed (and re-read if --verify),
 *   4. only then the batch's entries are zeroed in their area and the store
 *      flushed (data before metadata: kernel commit fcc42338 lost data on
 *      power loss by committing metadata first).
 * The store's data chunks are never written, and copying a chunk twice gives
 * the same bytes, so a merge killed at any point and rerun ends with the same
 * origin; what a crash leaves is a valid store with a shorter table, which
 * the kernel's snapshot-merge could also finish. A record in the header chunk
 * (merge-record.ts) lets a rerun say how much was already merged.
 */
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Range } from '../units/range.js';
import { type Bytes, bytes, formatBytes } from '../units/units.js';
import { SnapstoreError } from '../errors.js';
import { DiskException } from './format.js';
import type { BlockIo } from '../blockio/block-io.js';
import { MergeRecord } from './merge-record.js';
import { type CowTable, checkAgainstOrigin, readTable } from './exception-table.js';
import { type BatchData, type CopyLimits, DEFAULT_LIMITS, WritePlan, ioFailure, readBatch, runBytes } from './copy.js';

export interface MergeProgress {
  readonly doneChunks: number;
  readonly totalChunks: number;
  readonly doneBytes: Bytes;
}

export interface MergeOptions {
  /** Merge a store the kernel marked invalid (valid = 0): the result may be corrupt. */
  readonly force?: boolean;
  /** Validate and plan only: nothing is written. */
  readonly dryRun?: boolean;
  /** Re-read every write from the origin after its flush and compare. */
  readonly verify?: boolean;
  /** A store of ours: its extents on the origin device, which no exception may touch. */
  readonly storeExtents?: readonly Range<Bytes>[];
  /** Data per batch (one origin flush and one table commit each). Default 64 MiB. */
  readonly batchBytes?: Bytes;
  readonly limits?: CopyLimits;
  readonly onProgress?: (p: MergeProgress) => void;
}

export type MergeOutcome = 'merged' | 'already-merged' | 'nothing-to-merge' | 'dry-run';

export interface MergeSummary {
  readonly outcome: MergeOutcome;
  /** Exceptions in the table when the merge first began (this run or an interrupted one). */
  readonly totalExceptions: number;
  /** Exceptions an interrupted earlier run had already merged. */
  readonly alreadyMerged: number;
  /** Chunks copied (or, for a dry run, to copy) in this run. */
  readonly chunks: number;
  readonly bytes: Bytes;
  readonly reads: number;
  readonly writes: number;
  readonly batches: number;
  readonly verified: boolean;
  readonly seconds: number;
  readonly bytesPerSecond: number;
  /** Dry run: the origin writes it would do. */
  readonly plan?: readonly { offset: Bytes; length: Bytes }[];
}

const DEFAULT_BATCH = bytes(64 << 20);

/** Everything that must hold before the first write; returns the table. */
export function prepareMerge(origin: BlockIo, store: BlockIo, options: MergeOptions = {}): CowTable {
  const table = readTable(store);
  if (!table.valid && !options.force) {
    throw new SnapstoreError(
      'COW_INVALID',
      `${store.name}: the snapshot is marked Invalid (disk_header.valid = 0): the kernel stopped recording exceptions (store full or I/O error), so the snapshot's view is incomplete`,
      { hint: 'there is no rollback to merge; pass --force only to write the partial view anyway, knowing the result may be corrupt' },
    );
  }
  checkAgainstOrigin(table, origin, options.storeExtents);
  return table;
}

/** True when the header's record describes this table (not a stale one from an earlier use). */
function recordMatches(table: CowTable): boolean {
  const rec = table.merge;
  if (rec === undefined) return false;
  if (table.count === 0) return true;
  return (
    rec.state === 'merging' &&
    rec.firstOld === BigInt(table.oldChunks[0]!) &&
    rec.firstNew === BigInt(table.newChunks[0]!) &&
    rec.total >= table.count
  );
}

function writeRun(origin: BlockIo, plan: WritePlan, r: number, data: Buffer): void {
  try {
    origin.write(plan.offset(r), data);
  } catch (err) {
    throw ioFailure(err, describeRun(origin, plan, r, 'writing'));
  }
}

function describeRun(origin: BlockIo, plan: WritePlan, r: number, verb: string): string {
  const first = plan.firstOld(r);
  const last = plan.lastOld(r);
  return `${verb} origin chunk${first === last ? ` ${first}` : `s ${first}..${last}`} (byte ${plan.offset(r)}, ${formatBytes(plan.length(r))}) of ${origin.name}`;
}

/** Zeroes table entries [start, end of table) in the area holding `start`, then makes it durable. */
function consumeFrom(store: BlockIo, table: CowTable, start: number): void {
  const { layout } = table;
  const area = Math.floor(start / layout.epa);
  const at = layout.offsetOf(layout.areaChunk(area));
  try {
    const buf = store.read(at, table.chunk.bytes);
    buf.fill(0, (start % layout.epa) * DiskException.size);
    store.write(at, buf);
    store.flush();
  } catch (err) {
    throw ioFailure(err, `committing merge progress to area ${area} of ${store.name}`);
  }
}

/** Merges to the end (see above); synchronous. */
export function mergeOffline(origin: BlockIo, store: BlockIo, options: MergeOptions = {}): MergeSummary {
  const steps = mergeSteps(origin, store, options);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * The same, stopping at a safe point when `signal` fires: between batches,
 * once a batch's table entries are committed. The store then holds exactly
 * the exceptions not yet merged, and the error says how far it got; running
 * the merge again finishes it.
 */
export async function mergeOfflineInterruptible(origin: BlockIo, store: BlockIo, options: MergeOptions & { signal?: AbortSignal }): Promise<MergeSummary> {
  const steps = mergeSteps(origin, store, options);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await yieldToLoop();
    if (options.signal?.aborted) {
      const p = r.value;
      throw new SnapstoreError('INTERRUPTED', `merge interrupted by ${String(options.signal.reason)} at a safe point: ${p.doneChunks} of ${p.totalChunks} exceptions of this run were merged and committed; the store holds the rest`, {
        hint: 'run the same merge again: it resumes where this one stopped',
      });
    }
  }
}

/** The merge as steps: it yields after each batch is committed (a safe point to stop). */
export function* mergeSteps(origin: BlockIo, store: BlockIo, options: MergeOptions = {}): Generator<MergeProgress, MergeSummary> {
  const started = performance.now();
  const table = prepareMerge(origin, store, options);
  const { chunk } = table;
  const all = table.count;
  const resumed = recordMatches(table) ? table.merge : undefined;
  const total = resumed?.total ?? all;
  const limits = options.limits ?? DEFAULT_LIMITS;
  const summary = (outcome: MergeOutcome, extra: Partial<MergeSummary> = {}): MergeSummary => {
    const seconds = (performance.now() - started) / 1000;
    const moved = extra.bytes ?? bytes(0);
    return {
      outcome,
      totalExceptions: total,
      alreadyMerged: total - all,
      chunks: 0,
      bytes: bytes(0),
      reads: 0,
      writes: 0,
      batches: 0,
      verified: false,
      seconds,
      bytesPerSecond: seconds > 0 ? moved / seconds : 0,
      ...extra,
    };
  };

  if (all === 0) {
    if (resumed === undefined) return summary('nothing-to-merge');
    // A run killed after its last table commit but before its final record.
    if (resumed.state === 'merging' && !options.dryRun) MergeRecord.write(store, { ...resumed, state: 'merged' });
    return summary('already-merged');
  }

  if (options.dryRun) {
    const plan = new WritePlan(table.oldChunks, table.byOld, chunk, origin.size, limits);
    const runs = Array.from({ length: plan.runs }, (_, r) => ({ offset: plan.offset(r), length: plan.length(r) }));
    return summary('dry-run', {
      chunks: all,
      bytes: bytes(runs.reduce((n, r) => n + r.length, 0)),
      writes: runs.length,
      plan: runs,
    });
  }

  if (resumed === undefined) {
    MergeRecord.write(store, {
      state: 'merging',
      total: all,
      firstOld: BigInt(table.oldChunks[0]!),
      firstNew: BigInt(table.newChunks[0]!),
    });
  }

  const perBatch = Math.max(1, Math.floor((options.batchBytes ?? DEFAULT_BATCH) / chunk.bytes));
  let done = 0;
  let moved = 0;
  let reads = 0;
  let writes = 0;
  let batches = 0;
  const scratch = Buffer.allocUnsafe(limits.maxWriteBytes);
  for (let end = all; end > 0; ) {
    const start = Math.max(0, end - perBatch);
    const { data, plan } = readBatch(store, table, start, end, origin.size, limits);
    reads += data.reads;
    for (let r = 0; r < plan.runs; r++) {
      writeRun(origin, plan, r, runBytes(plan, r, data, scratch));
      writes++;
      done += plan.chunks(r);
      moved += plan.length(r);
      options.onProgress?.({ doneChunks: done, totalChunks: all, doneBytes: bytes(moved) });
    }
    try {
      origin.flush();
    } catch (err) {
      throw ioFailure(err, `flushing ${origin.name} after writing chunks for table entries ${start}..${end - 1}`);
    }
    if (options.verify) verifyRuns(origin, plan, data, scratch);
    consumeFrom(store, table, start);
    batches++;
    end = start;
    if (end > 0) yield { doneChunks: done, totalChunks: all, doneBytes: bytes(moved) };
  }
  MergeRecord.write(store, { state: 'merged', total, firstOld: 0n, firstNew: 0n });
  return summary('merged', {
    chunks: done,
    bytes: bytes(moved),
    reads,
    writes,
    batches,
    verified: Boolean(options.verify),
  });
}

function verifyRuns(origin: BlockIo, plan: WritePlan, data: BatchData, scratch: Buffer): void {
  for (let r = 0; r < plan.runs; r++) {
    let back: Buffer;
    try {
      back = origin.read(plan.offset(r), plan.length(r));
    } catch (err) {
      throw ioFailure(err, describeRun(origin, plan, r, 'verifying'));
    }
    if (!back.equals(runBytes(plan, r, data, scratch))) {
      throw new SnapstoreError('COW_VERIFY_MISMATCH', `${describeRun(origin, plan, r, 'verifying')}: the origin does not read back what was written`, {
        hint: 'the origin device is failing or something else writes to it; the store still holds this batch, so a rerun retries it',
      });
    }
  }
}
