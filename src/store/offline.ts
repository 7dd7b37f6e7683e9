/**
 * The offline tools as library calls: merge a store into its origin, export
 * the snapshot's view, inspect a store. They open their inputs (sources.ts),
 * refuse what would lose data (origin and store the same blocks, an export
 * over one of its inputs), stop at a safe point on a signal, and leave no
 * half-written image behind.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FileIo } from '../blockio/file-io.js';
import { exportViewInterruptible, type ExportSummary } from '../cow/export.js';
import { inspectStore, type StoreReport } from '../cow/inspect.js';
import { mergeOfflineInterruptible, type MergeProgress, type MergeSummary } from '../cow/merge.js';
import type { DeviceMapperApi } from '../dm/api.js';
import { deviceMapperIfPresent } from '../dm/presence.js';
import { SnapstoreError } from '../errors.js';
import { fromNodeError } from '../linux/errors.js';
import { fsyncDir } from '../linux/fs.js';
import { lstatOrNone } from '../state/trust.js';
import { withUndo } from '../util/undo.js';
import type { Bytes } from '../units/units.js';
import { sameBlocks } from './overlap.js';
import { openOrigin, openStoreSource, type SourceOptions } from './sources.js';

/** Runs `fn` with a dm client: the one given, or one opened (if the system has device-mapper) and closed after. */
async function withDm<T>(given: DeviceMapperApi | undefined, fn: (dm: DeviceMapperApi | undefined) => Promise<T> | T): Promise<T> {
  const dm = given ?? deviceMapperIfPresent();
  try {
    return await fn(dm);
  } finally {
    if (!given) dm?.close();
  }
}

function refuseSameBlocks(dm: DeviceMapperApi | undefined, origin: string, other: string, code: 'SAME_DEVICE' | 'EXPORT_OVERWRITES_INPUT', hint: string): void {
  const why = sameBlocks(dm, origin, other);
  if (why) throw new SnapstoreError(code, `${why}: nothing was written`, { hint });
}

export interface OfflineMergeOptions extends SourceOptions {
  readonly origin: string;
  readonly force?: boolean;
  readonly verify?: boolean;
  readonly dryRun?: boolean;
  readonly onProgress?: (p: MergeProgress) => void;
  /** stops at a safe point between batches (the store then holds what is left) */
  readonly signal?: AbortSignal;
  /** data per batch: one origin flush and one table commit each (default 64 MiB) */
  readonly batchBytes?: Bytes;
}

/** `merge --offline`: restartable; see cow/merge.ts for what it leaves at every moment. */
export async function mergeStoreOffline(options: OfflineMergeOptions): Promise<MergeSummary> {
  const writable = !options.dryRun;
  return withDm(options.dm, async (dm) => {
    if (options.cow !== undefined && fs.existsSync(options.cow) && fs.existsSync(options.origin)) {
      refuseSameBlocks(dm, options.origin, options.cow, 'SAME_DEVICE', 'give the store and the origin it was taken of: they are two different devices or images');
    }
    const source = await openStoreSource({ ...options, dm }, writable);
    try {
      // Exclusive even for a dry run: it must not promise a merge the real run refuses.
      const origin = openOrigin(options.origin, writable, true);
      try {
        const storeExtents = source.storeRangesOn(options.origin, origin.size);
        return await mergeOfflineInterruptible(origin, source.io, {
          force: options.force,
          verify: options.verify,
          dryRun: options.dryRun,
          storeExtents,
          onProgress: options.onProgress,
          signal: options.signal,
          ...(options.batchBytes !== undefined ? { batchBytes: options.batchBytes } : {}),
        });
      } finally {
        origin.close();
      }
    } finally {
      source.io.close();
    }
  });
}

export interface ExportOptions extends SourceOptions {
  /** a new image file (created, never overwritten) or an existing block device (overwritten) */
  readonly out: string;
  readonly origin: string;
  readonly force?: boolean;
  readonly signal?: AbortSignal;
  /** told what was cleaned up first (the partial image of an export that was killed) */
  readonly log?: (line: string) => void;
}

export interface ExportResult extends ExportSummary {
  readonly out: string;
  /** partial images that exports killed outright (SIGKILL, power loss) had left, removed first */
  readonly removedLeftovers: string[];
}

/** The temporary name an export to `out` writes under, in the process `pid`. */
const partialName = (out: string, pid: number): string => path.join(path.dirname(out), `.${path.basename(out)}.partial-${pid}`);

function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * The partial images earlier exports to `out` left when they were killed
 * outright (SIGKILL, a power cut: no undo ran), removed: each is an
 * incomplete copy under our own temporary name for this very OUT, its
 * process is gone so nothing will finish it, and this export writes OUT
 * anew. One whose process still runs (another export to OUT under way) is
 * refused; anything under that name that export does not leave (not a
 * regular file of ours) is left alone and refused, naming it.
 */
function removeLeftoverPartials(out: string, log: (line: string) => void): string[] {
  const dir = path.dirname(out);
  const prefix = `.${path.basename(out)}.partial-`;
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return []; // a missing folder is reported when the image is created
  }
  const removed: string[] = [];
  for (const e of entries) {
    if (!e.startsWith(prefix) || !/^[1-9]\d*$/.test(e.slice(prefix.length))) continue;
    const pid = Number(e.slice(prefix.length));
    const leftover = path.join(dir, e);
    if (pid === process.pid) continue;
    if (processRunning(pid)) {
      throw new SnapstoreError('EXPORT_EXISTS', `${leftover} is the partial image of another export to ${out}, and its process ${pid} is still running`, {
        hint: `wait for that export to finish (or stop it: kill ${pid}); if process ${pid} is not an export, remove ${leftover} and run this again`,
      });
    }
    const st = lstatOrNone(leftover);
    if (!st) continue;
    if (!st.isFile() || st.uid !== process.geteuid?.()) {
      throw new SnapstoreError('EXPORT_EXISTS', `${leftover} has the name of an export's partial image but is not one (${st.isFile() ? `owned by uid ${st.uid}` : 'not a regular file'}): it was left alone`, {
        hint: `check it and remove it by hand, or export to another name`,
      });
    }
    try {
      fs.unlinkSync(leftover);
    } catch (err) {
      throw fromNodeError(err, 'unlink', leftover);
    }
    removed.push(leftover);
    log(`removed ${leftover}: the partial image of an export to ${out} that was killed (its process ${pid} is gone)`);
  }
  if (removed.length) fsyncDir(dir);
  return removed;
}

/**
 * `export`: the snapshot's view as an image. A new image is written under a
 * temporary name beside OUT and renamed (then the directory fsynced) at the
 * end: a failed or interrupted export leaves no half image.
 */
export async function exportStoreView(options: ExportOptions): Promise<ExportResult> {
  const out = path.resolve(options.out);
  const st = fs.statSync(out, { throwIfNoEntry: false });
  const isDevice = st?.isBlockDevice() ?? false;
  return withDm(options.dm, async (dm) => {
    if (st) {
      for (const input of [options.origin, options.cow]) {
        if (input !== undefined && fs.existsSync(input)) {
          refuseSameBlocks(dm, input, out, 'EXPORT_OVERWRITES_INPUT', 'export writes a new image; to change the origin, use merge');
        }
      }
      if (!isDevice) {
        throw new SnapstoreError('EXPORT_EXISTS', `${out} already exists; export writes a new image and overwrites no file`, {
          hint: 'give a new file name, or remove the old image first',
        });
      }
    }
    const removedLeftovers = isDevice ? [] : removeLeftoverPartials(out, options.log ?? (() => {}));
    const source = await openStoreSource({ ...options, dm }, false);
    try {
      const origin = openOrigin(options.origin, false);
      try {
        return await withUndo(async (undo) => {
          let target: FileIo;
          const partial = partialName(out, process.pid);
          if (isDevice) {
            target = openTarget(out);
          } else {
            target = FileIo.create(partial, origin.size);
            undo.push(`the partial image ${partial}`, () => fs.rmSync(partial, { force: true }));
          }
          try {
            const s = await exportViewInterruptible(origin, source.io, target, { force: options.force, signal: options.signal });
            if (!isDevice) {
              fs.renameSync(partial, out);
              fsyncDir(path.dirname(out));
            }
            return { out, removedLeftovers, ...s };
          } catch (err) {
            throw explainExportFailure(err, out);
          } finally {
            target.close();
          }
        });
      } finally {
        origin.close();
      }
    } finally {
      source.io.close();
    }
  });
}

function openTarget(out: string): FileIo {
  try {
    return FileIo.open(out, { writable: true, exclusive: true });
  } catch (err) {
    if ((err as { code?: string }).code === 'EBUSY') {
      throw new SnapstoreError('DEVICE_IN_USE', `${out} is in use (mounted, or held by a dm or loop device): export does not write over a device in use`, {
        hint: `unmount it (findmnt ${out}) or remove what is stacked on it (lsblk ${out}), or export to a new image file`,
      });
    }
    throw err;
  }
}

/** An I/O error while exporting says what to do about the export, not about a merge. */
function explainExportFailure(err: unknown, out: string): unknown {
  if (err instanceof SnapstoreError && err.code === 'COW_IO') {
    const noSpace = /ENOSPC/.test(err.message);
    return new SnapstoreError('COW_IO', err.message, {
      hint: noSpace ? `the filesystem of ${out} is full: free space there or export to another filesystem` : 'fix the device and run the export again; neither input was changed',
      cause: err,
    });
  }
  return err;
}

export interface InspectOptions extends SourceOptions {
  readonly exceptions?: boolean;
}

export type InspectResult = ({ readonly written: true } & StoreReport) | { readonly written: false };

/**
 * `inspect`: a store's report. One of ours nothing has written to yet (a
 * new store) is a normal state: `written: false`.
 */
export async function inspectSource(options: InspectOptions): Promise<InspectResult> {
  const source = await openStoreSource(options, false);
  try {
    return { written: true, ...inspectStore(source.io, { exceptions: options.exceptions }) };
  } catch (err) {
    if (options.store !== undefined && err instanceof SnapstoreError && err.code === 'COW_NEVER_WRITTEN') return { written: false };
    throw err;
  } finally {
    source.io.close();
  }
}
