/**
 * `snapstore watch`: keeps live snapshots' stores ahead of their writers.
 * Usage is read through the dm status ioctl (no process per poll): a
 * snapshot raises a dm event only once it is invalidated (docs/design.md
 * "Filling up and events"), too late to act on, so the watcher polls, every
 * 100 ms by default. It grows a store by a step that follows the measured
 * fill rate (plan.ts), through `extendSnapshot` (the state lock held only
 * meanwhile); when a store can grow no more it warns at 80, 90 and 95% and,
 * before the store is full, the on-full policy acts: `abort` (the default)
 * stops writes to the device that fills the store, `commit` keeps the
 * update and drops the snapshot, `invalidate` lets it fill, loudly. It
 * keeps no state of its own: after a restart it reads the manifests and
 * the kernel, and catches up an extension that was cut short.
 */
import * as fs from 'node:fs';
import { SnapstoreError } from '../errors.js';
import { parseSnapshotStatus, type SnapshotStatus } from '../dm/status.js';
import { commitSnapshot } from '../snapshot/commit.js';
import { Operation, withLifecycle, withPlatform } from '../snapshot/context.js';
import type { LifecycleOptions } from '../snapshot/context.js';
import { catchUpStore, extendSnapshot, freeAtCreate, usageDevice, type KeepFree } from '../snapshot/extend.js';
import { writeFillRecord } from '../snapshot/fill.js';
import { findSnapshot, snapshotNames } from '../snapshot/manifest.js';
import type { SnapshotManifest } from '../snapshot/manifest.js';
import type { Platform } from '../snapshot/platform.js';
import { isFinished } from '../snapshot/states.js';
import { updateDevice } from '../snapshot/update-stack.js';
import { withStateLock } from '../state/lock.js';
import { StateDir } from '../state/state-dir.js';
import type { FreeSpace } from '../store/free-space.js';
import { readManifest, type StoreManifest } from '../store/manifest.js';
import { pendingWrites } from '../linux/meminfo.js';
import { Layout } from '../cow/format.js';
import { bytes, chunkSize, formatBytes, type Bytes } from '../units/units.js';
import { decide, mustAct, WARN_AT, type Limits, type Sample } from './plan.js';
import { FillRate } from './rate.js';

export type OnFull = 'commit' | 'abort' | 'invalidate';

/**
 * `abort`: of the three, only it keeps both the rollback and every write
 * made so far (writes wait, nothing is lost or invalidated); a reboot and
 * `snapstore rollback` or `commit` end it. Android's vold commits by default
 * because its update is all but done by then; a checkpoint's promise is the
 * way back, so we keep that.
 */
export const DEFAULT_ON_FULL: OnFull = 'abort';

export type WatchEventKind = 'watching' | 'caught-up' | 'extending' | 'extended' | 'extend-failed' | 'cannot-grow' | 'warning' | 'policy' | 'invalid' | 'done' | 'stopped';

/** One decision or observation: a log line, or a JSON line with `--json`. */
export interface WatchEvent {
  readonly at: string;
  readonly name: string;
  readonly event: WatchEventKind;
  readonly message: string;
  readonly usedBytes?: number;
  readonly totalBytes?: number;
  readonly bytesPerSecond?: number;
  /** extending/extended: the step asked; extended: the time it took and what was held back */
  readonly byBytes?: number;
  readonly seconds?: number;
  readonly heldBackBytes?: number;
}

/**
 * A size for each store: bytes, or bytes worked out for a store once, when
 * its snapshot is first watched (the CLI's shares, such as 20% of the
 * store's filesystem: a store's own growth does not move its limit).
 */
export type PerStore = Bytes | ((store: StoreManifest) => Bytes);

export interface WatchOptions extends LifecycleOptions {
  /** the snapshots to watch (default: every live one, looked for again every 2 s) */
  readonly names?: readonly string[];
  /** the poll interval (default 100 ms) */
  readonly intervalMs?: number;
  /** no store grows past this many usable bytes (default: no limit but its filesystem's) */
  readonly max?: PerStore;
  readonly keepFree?: KeepFree;
  readonly onFull?: OnFull;
  /** the smallest growth (default 16 MiB) */
  readonly minStep?: PerStore;
  /** grow when a store would be full within this many seconds (default 5) */
  readonly leadSeconds?: number;
  /** the on-full policy acts when a store that cannot grow would be full within this many seconds (default 2) */
  readonly actSeconds?: number;
  /** writes waiting in the page cache, in bytes (default: Dirty + Writeback of /proc/meminfo) */
  readonly pendingWrites?: () => number;
  /** SIGTERM/SIGINT: the watcher stops after the step under way */
  readonly signal?: AbortSignal;
  readonly onEvent: (e: WatchEvent) => void;
}

export interface WatchSummary {
  readonly extensions: number;
  /** snapshots the on-full policy acted on */
  readonly acted: readonly string[];
  /** snapshots found Invalid */
  readonly invalid: readonly string[];
}

/** What the watcher keeps per snapshot while it runs (nothing it cannot learn again). */
interface Watched {
  readonly m: SnapshotManifest;
  /** --max and --min-step for this store (Infinity: no --max) */
  readonly max: number;
  readonly minStep: number;
  readonly rate: FillRate;
  lastExtendSeconds: number;
  /** the largest step the filesystem took last (halved on ENOSPC) */
  stepCap: number;
  /** the most writes seen waiting in the page cache at once since it was first watched */
  burst: number;
  /**
   * The last extension got less than it asked: the filesystem's room limits the store, not
   * the plan. Room for another burst is then not asked for: each step takes a share of what
   * is left, and an idle store would keep taking halves of it.
   */
  roomShort: boolean;
  /** the store that holds a copy of every chunk of the origin: it never needs more */
  wholeOrigin: number;
  storeFile: string;
  /** with the store on the origin's filesystem: what that filesystem used at create (its free-space map) */
  usedAtCreate: number | undefined;
  /** why it can grow no more, once it cannot */
  cannotGrow: string | undefined;
  readonly warned: Set<number>;
  readonly free: { value?: FreeSpace };
  lastRecordMs: number;
  policyDone: boolean;
}

const MiB = 1 << 20;
const DEFAULT_MIN_STEP = 16 * MiB;
const RESCAN_MS = 2000;
const RECORD_MS = 5000;

const live = (m: SnapshotManifest) => m.state === 'active' || m.state === 'rollback-pending';

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export async function watchSnapshots(options: WatchOptions): Promise<WatchSummary> {
  const stateDir = StateDir.need(options.stateDir);
  const onFull = options.onFull ?? DEFAULT_ON_FULL;
  const interval = options.intervalMs ?? 100;
  const acted: string[] = [];
  const invalid: string[] = [];
  let extensions = 0;
  const emit = (name: string, event: WatchEventKind, message: string, more: Partial<WatchEvent> = {}) => options.onEvent({ at: new Date().toISOString(), name, event, message, ...more });

  return withPlatform(options.platform, async (platform) => {
    const life = { stateDir: options.stateDir, platform, waitLockMs: options.waitLockMs ?? 5000, ...(options.log ? { log: options.log } : {}) };
    const watched = new Map<string, Watched>();
    const finished = new Set<string>();
    let lastScan = -Infinity;

    /** From now on the store of `w` cannot grow: said once, loudly. */
    const cannot = (w: Watched, why: string) => {
      w.cannotGrow = why;
      emit(w.m.name, 'cannot-grow', `WARNING: the store of "${w.m.name}" cannot grow any more (${why}); before it fills: --on-full ${onFull}`);
    };

    const scan = async () => {
      const names = options.names ?? snapshotNames(stateDir, (d) => fs.readdirSync(d));
      for (const name of names) {
        if (finished.has(name)) continue;
        const m = findSnapshot(stateDir, name);
        if (!m) {
          if (options.names) throw new SnapstoreError('NO_SUCH_SNAPSHOT', `no snapshot named "${name}" in ${stateDir.path}`, { hint: '`snapstore list` lists them' });
          continue;
        }
        const w = watched.get(name);
        if (isFinished(m.state) || m.state === 'merging' || (w && !live(m))) {
          if (w || options.names) emit(name, 'done', `snapshot "${name}" is ${m.state}: no longer watched`);
          watched.delete(name);
          finished.add(name);
          continue;
        }
        if (w || !live(m) || !platform.dm.find(usageDevice(m))) continue;
        const caught = await catchUpStore({ ...life, name });
        for (const c of caught) emit(name, 'caught-up', c);
        // The filesystem's free space at create never changes: read now, not under pressure.
        const free = await freeAtCreate({ stateDir: options.stateDir, platform, name });
        const store = readManifest(stateDir, m.store);
        const limits = storeLimits(options, () => store);
        const storeFile = store.file;
        const usedAtCreate = free ? platform.filesystem(storeFile).sizeBytes - free.bytes : undefined;
        const added: Watched = { m, burst: 0, roomShort: false, storeFile, usedAtCreate, wholeOrigin: wholeOriginBytes(m), max: limits.max, minStep: limits.minStep, rate: new FillRate(), lastExtendSeconds: 0, stepCap: Infinity, cannotGrow: undefined, warned: new Set(), free: free ? { value: free } : {}, lastRecordMs: 0, policyDone: false };
        watched.set(name, added);
        emit(name, 'watching', `watching snapshot "${name}" (${m.mode}): the store grows ahead of its writer${added.max !== Infinity ? ` up to ${formatBytes(added.max)}` : ''}; if it cannot: --on-full ${onFull}`);
        if (limits.error) cannot(added, limits.error);
      }
    };

    while (!options.signal?.aborted) {
      const now = Date.now();
      if (now - lastScan >= RESCAN_MS) {
        await scan();
        lastScan = now;
        if (options.names && watched.size === 0 && options.names.every((n) => finished.has(n))) break;
      }
      for (const [name, w] of watched) {
        if (options.signal?.aborted) break;
        const dev = usageDevice(w.m);
        if (!platform.dm.find(dev)) {
          lastScan = -Infinity; // gone: the next scan says why
          continue;
        }
        const status = parseSnapshotStatus(platform.dm.status(dev)[0]?.params ?? '');
        if (status.state !== 'active') {
          if (status.state === 'invalid') {
            invalid.push(name);
            emit(name, 'invalid', `snapshot "${name}" is INVALID: ${w.m.mode === 'checkpoint' ? 'the rollback is lost' : 'the update in it is incomplete'}${w.policyDone ? '' : ` (--on-full ${onFull})`}`);
          }
          watched.delete(name);
          finished.add(name);
          continue;
        }
        const pending = (options.pendingWrites ?? pendingWrites)();
        w.burst = Math.max(w.burst, pending);
        let s = sampleOf(platform, w, status, pending);
        const seen = (x: Sample) => ({ usedBytes: x.used, totalBytes: x.total, bytesPerSecond: Math.round(x.rate) });
        const more = seen(s);
        if (Date.now() - w.lastRecordMs >= RECORD_MS) {
          w.lastRecordMs = Date.now();
          await record(stateDir, name, s);
        }
        if (w.policyDone) continue;
        // A store that can hold a copy of every chunk of the origin never fills: nothing to do.
        if (s.total >= w.wholeOrigin) continue;
        const limits: Limits = { minStep: Math.min(w.minStep, w.stepCap), max: Math.min(w.max, w.cannotGrow ? s.total : Infinity, w.wholeOrigin), leadSeconds: options.leadSeconds ?? 5, chunk: w.m.chunkSize };
        const d = decide(s, limits, w.lastExtendSeconds);
        if (d.action === 'extend') {
          const by = Math.min(d.by, w.stepCap === Infinity ? d.by : Math.max(w.m.chunkSize, Math.floor(w.stepCap / w.m.chunkSize) * w.m.chunkSize));
          emit(name, 'extending', `${name}: ${d.why}: growing the store by ${formatBytes(by)}`, { ...more, byBytes: by });
          const t0 = performance.now();
          try {
            const r = await extendSnapshot({ ...life, name, by: bytes(by), upToRoom: true, ...(options.keepFree ? { keepFree: options.keepFree } : {}), freeCache: w.free });
            w.lastExtendSeconds = (performance.now() - t0) / 1000;
            w.roomShort = r.cutByRoom;
            extensions++;
            emit(name, 'extended', r.message, { byBytes: r.after - r.before, seconds: Math.round(w.lastExtendSeconds * 1000) / 1000, heldBackBytes: r.heldBack, totalBytes: r.after });
            w.lastRecordMs = Date.now();
            await record(stateDir, name, { ...s, total: r.after });
            // Nothing gained (every new block held back for the extension hazard): the next step reaches further, until the filesystem refuses.
          } catch (err) {
            if (!(err instanceof SnapstoreError)) throw err;
            emit(name, 'extend-failed', `${name}: growing by ${formatBytes(by)} failed: ${err.message}`, more);
            if (err.code === 'ENOSPC' && by > 2 * w.m.chunkSize && by > MiB) w.stepCap = Math.floor(by / 2);
            else if (err.code === 'ENOSPC' || err.code === 'STORE_CANNOT_GROW' || err.code === 'FS_UNREADABLE') cannot(w, err.message);
            else if (err.code === 'BAD_STATE') lastScan = -Infinity;
          }
          if (!w.cannotGrow) continue;
          // It has just learnt that it cannot grow: the policy is weighed at once, on a fresh reading.
          const fresh = parseSnapshotStatus(platform.dm.status(dev)[0]?.params ?? '');
          if (fresh.state !== 'active') continue; // the next round reports it
          s = sampleOf(platform, w, fresh, pending);
        }
        if (d.action !== 'none' || w.cannotGrow) {
          const why = w.cannotGrow ?? `it is at --max ${formatBytes(w.max)}`;
          const pct = Math.floor((s.used / s.total) * 100);
          const level = [...WARN_AT].reverse().find((p) => pct >= p && !w.warned.has(p));
          if (level !== undefined) {
            WARN_AT.filter((p) => p <= level).forEach((p) => w.warned.add(p));
            emit(name, 'warning', `WARNING: the store of "${name}" is ${pct}% full and cannot grow (${why}); at the end: --on-full ${onFull}`, seen(s));
          }
          if (mustAct(s, options.actSeconds ?? 2, Math.max(MiB, 8 * w.m.chunkSize))) {
            w.policyDone = true;
            const message = await actOnFull(life, w.m, onFull, why);
            if (onFull !== 'invalidate') acted.push(name);
            emit(name, 'policy', message, seen(s));
            if (onFull !== 'invalidate') {
              watched.delete(name);
              finished.add(name);
            }
          }
        }
      }
      await sleep(interval, options.signal);
    }
    emit('-', 'stopped', `the watcher stopped (${extensions} extension${extensions === 1 ? '' : 's'})`);
    return { extensions, acted, invalid };
  });
}

/** What the plan weighs for `w`, from the kernel's status and the writes waiting now (the rate sampled as it is read). */
function sampleOf(platform: Platform, w: Watched, status: Extract<SnapshotStatus, { state: 'active' }>, pending: number): Sample {
  const used = status.allocated * 512;
  return { used, total: status.total * 512, rate: w.rate.sample(Date.now(), used), pending, burst: w.roomShort ? 0 : w.burst, toCome: toCome(platform, w, used, pending) };
}

/**
 * The most the store of `w` can still take beyond `used`. Every chunk of the origin is
 * either used by the filesystem at create, and may be overwritten once, or free, and
 * reaches the store only once the filesystem gives it out again: from what is free now
 * (root's reserve included) or from writes waiting in the page cache (their blocks are
 * taken already). A chunk larger than a block counts whole for each block.
 */
function toCome(platform: Platform, w: Watched, used: number, pending: number): number {
  const rest = Math.max(0, w.wholeOrigin - used);
  if (w.usedAtCreate === undefined) return rest;
  const now = platform.filesystem(w.storeFile);
  const factor = Math.max(1, w.m.chunkSize / now.blockSize);
  return Math.min(rest, factor * (pending + now.freeBytes + w.usedAtCreate));
}

/** Usable bytes of a store that can take an exception for every chunk of the origin. */
function wholeOriginBytes(m: SnapshotManifest): number {
  const layout = new Layout(chunkSize(m.chunkSize));
  return layout.chunksToHold(Math.ceil((m.origin.sectors * 512) / m.chunkSize)) * m.chunkSize;
}

/**
 * --max and --min-step for one store, worked out once. Where they cannot be
 * (a range empty on its filesystem, the filesystem not there), the store is
 * still watched: it cannot grow, which is said at once, and the on-full
 * policy keeps the snapshot safe; other snapshots are watched as before.
 */
export function storeLimits(options: WatchOptions, read: () => StoreManifest): { max: number; minStep: number; error?: string } {
  let store: StoreManifest | undefined;
  const at = (size: PerStore | undefined) => (typeof size === 'function' ? size((store ??= read())) : size);
  try {
    return { max: at(options.max) ?? Infinity, minStep: at(options.minStep) ?? DEFAULT_MIN_STEP };
  } catch (err) {
    if (!(err instanceof SnapstoreError)) throw err;
    return { max: Infinity, minStep: DEFAULT_MIN_STEP, error: err.message };
  }
}

/** The fill record for `status`; skipped when another command holds the lock. */
async function record(stateDir: StateDir, name: string, s: Sample): Promise<void> {
  try {
    await withStateLock(stateDir, (lock) => writeFillRecord(lock, { version: 1, name, at: new Date().toISOString(), usedBytes: s.used, totalBytes: s.total, bytesPerSecond: Math.round(s.rate) }), { waitMs: 200 });
  } catch (err) {
    if (!(err instanceof SnapstoreError)) throw err;
  }
}

/** What the policy does when a store cannot grow and is about to be full. */
async function actOnFull(life: LifecycleOptions & { platform: Platform }, m: SnapshotManifest, onFull: OnFull, why: string): Promise<string> {
  if (onFull === 'invalidate') {
    return `the store of "${m.name}" is about to fill and cannot grow (${why}): --on-full invalidate lets the kernel invalidate the snapshot; ${m.mode === 'checkpoint' ? 'the rollback will be lost' : 'the update in it will be incomplete'}`;
  }
  if (onFull === 'commit') {
    const r = await commitSnapshot({ ...life, name: m.name });
    return `the store of "${m.name}" could not grow (${why}): --on-full commit: ${r.message}`;
  }
  // abort: the device whose writes fill the store is suspended without flushing
  // (queued writes wait, none is lost, none reaches the store), and the record says so.
  return withLifecycle(life, false, async (platform, lock) => {
    const op = new Operation(platform, lock, findSnapshot(lock.dir, m.name) ?? m, () => {});
    const dev = m.mode === 'update' ? updateDevice(m.name) : op.originDm;
    platform.dm.suspend(dev, { lockfs: false, flush: false });
    op.note({ writesStopped: dev }, `--on-full abort: the store could not grow (${why}); writes to ${dev} stopped before it filled`);
    return `ABORTED: the store of "${m.name}" could not grow (${why}); writes to ${dev} are stopped (suspended) before the store filled: the snapshot stays valid. Tell the update agent; reboot and \`snapstore rollback ${m.name}\` (or \`commit\`), or free space and \`dmsetup resume ${dev}\``;
  });
}
