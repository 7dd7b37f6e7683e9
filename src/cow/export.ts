/**
 * The snapshot's view without the kernel: the origin with every exception's
 * chunk applied, written to an image. Reads both inputs only, so a user can
 * check a rollback (mount the image, diff it) before merging.
 */
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { throwIfInterrupted } from '../util/interrupt.js';
import { type Bytes, bytes, formatBytes } from '../units/units.js';
import { SnapstoreError } from '../errors.js';
import type { BlockIo } from '../blockio/block-io.js';
import { type MergeOptions, prepareMerge } from './merge.js';
import { DEFAULT_LIMITS, ioFailure, readBatch, runBytes } from './copy.js';

export interface ExportSummary {
  readonly originBytes: Bytes;
  readonly exceptions: number;
  readonly seconds: number;
}

/** Origin bytes copied per read/write while cloning it. */
const CLONE_BYTES = 8 << 20;
/** Exceptions applied per batch (bounds memory like a merge batch). */
const BATCH_BYTES = 64 << 20;

type ExportOptions = Pick<MergeOptions, 'force' | 'limits' | 'onProgress'>;

/** Writes the view (synchronous). */
export function exportView(origin: BlockIo, store: BlockIo, out: BlockIo, options: ExportOptions = {}): ExportSummary {
  const steps = exportSteps(origin, store, out, options);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** The same, stopping when `signal` fires (between copies): the caller removes what was written. */
export async function exportViewInterruptible(origin: BlockIo, store: BlockIo, out: BlockIo, options: ExportOptions & { signal?: AbortSignal }): Promise<ExportSummary> {
  const steps = exportSteps(origin, store, out, options);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await yieldToLoop();
    throwIfInterrupted(options.signal, `while exporting to ${out.name}`);
  }
}

/** The export as steps: it yields after each piece written. */
function* exportSteps(origin: BlockIo, store: BlockIo, out: BlockIo, options: ExportOptions): Generator<undefined, ExportSummary> {
  const started = performance.now();
  const table = prepareMerge(origin, store, { force: options.force });
  if (out.size < origin.size) {
    throw new SnapstoreError('COW_EXPORT_TOO_SMALL', `${out.name} is ${formatBytes(out.size)}, smaller than ${origin.name} (${formatBytes(origin.size)})`, {
      hint: 'give a new file name (it is created at the right size) or a larger device',
    });
  }
  for (let at = 0; at < origin.size; at += CLONE_BYTES) {
    const n = Math.min(CLONE_BYTES, origin.size - at);
    let buf: Buffer;
    try {
      buf = origin.read(bytes(at), bytes(n));
    } catch (err) {
      throw ioFailure(err, `reading ${origin.name} at byte ${at}`);
    }
    try {
      out.write(bytes(at), buf);
    } catch (err) {
      throw ioFailure(err, `writing ${out.name} at byte ${at}`);
    }
    yield;
  }
  const { chunk, count } = table;
  const limits = options.limits ?? DEFAULT_LIMITS;
  const perBatch = Math.max(1, Math.floor(BATCH_BYTES / chunk.bytes));
  let done = 0;
  let moved = 0;
  const scratch = Buffer.allocUnsafe(limits.maxWriteBytes);
  for (let start = 0; start < count; start += perBatch) {
    const end = Math.min(count, start + perBatch);
    const { data, plan } = readBatch(store, table, start, end, origin.size, limits);
    for (let r = 0; r < plan.runs; r++) {
      try {
        out.write(plan.offset(r), runBytes(plan, r, data, scratch));
      } catch (err) {
        throw ioFailure(err, `writing ${out.name} at byte ${plan.offset(r)}`);
      }
      done += plan.chunks(r);
      moved += plan.length(r);
      options.onProgress?.({ doneChunks: done, totalChunks: count, doneBytes: bytes(moved) });
    }
    yield;
  }
  try {
    out.flush();
  } catch (err) {
    throw ioFailure(err, `flushing ${out.name}`);
  }
  return { originBytes: origin.size, exceptions: count, seconds: (performance.now() - started) / 1000 };
}
