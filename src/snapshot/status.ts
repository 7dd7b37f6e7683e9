/**
 * `snapstore status` and `snapstore list`: what each snapshot is, read from
 * its manifest and from the kernel, and whether the two agree.
 */
import * as fs from 'node:fs';
import { DeviceMapper } from '../dm/client.js';
import { nodePath } from '../dm/nodes.js';
import { parseSnapshotStatus, type SnapshotStatus } from '../dm/status.js';
import { stateLockHolder } from '../state/lock.js';
import { StateDir } from '../state/state-dir.js';
import { findManifest } from '../store/manifest.js';
import type { Bytes } from '../units/units.js';
import { formatBytes, sectorsToBytes } from '../units/units.js';
import type { SnapshotManifest, SnapshotMode } from './manifest.js';
import { originLabel, readSnapshot, snapshotNames } from './manifest.js';
import { inspectUpdate, updateDevice } from './update-stack.js';
import type { Platform } from './platform.js';
import { linuxPlatform } from './platform.js';
import { inspectStack, stackNames, tableSectors } from './stack.js';
import type { SnapshotState } from './states.js';
import { isFinished } from './states.js';
import { freshFillRecord } from './fill.js';

export const STATUS_SCHEMA_VERSION = 1;

export type Health = 'valid' | 'invalid' | 'overflow' | 'merge-failed' | 'inactive' | 'finished' | 'unknown';

export interface SnapshotReport {
  readonly name: string;
  readonly mode: SnapshotMode;
  readonly state: SnapshotState;
  /** the origin: its dm name (null for a plain device) and its device node */
  readonly origin: { readonly dmName: string | null; readonly device: string };
  /** the snapshot's device while it is live: a checkpoint's pre-update view, an update's new contents */
  readonly snapshotDevice: string | null;
  readonly store: { readonly name: string; readonly file: string | null; readonly size: Bytes | null; readonly pending: boolean };
  readonly chunkSize: Bytes;
  /** store usage as the kernel reports it, while live or merging */
  readonly usage: { readonly used: Bytes; readonly free: Bytes; readonly total: Bytes; readonly usedPercent: number } | null;
  /** how fast the store fills and when it would be full at that rate, from the watcher's last measurement (null without a fresh one) */
  readonly fill: { readonly bytesPerSecond: number; readonly secondsToFull: number | null; readonly measuredAt: string } | null;
  /** a health-gated commit's boot budget: boots counted, allowed, and whether it was spent (activate rolled back) */
  readonly bootAttempts: { readonly used: number; readonly budget: number; readonly spent: boolean } | null;
  /** bytes of exceptions still to merge, while merging */
  readonly mergeRemaining: Bytes | null;
  readonly health: Health;
  /** whether the kernel's devices are what the manifest's state calls for (or another command is changing them) */
  readonly agrees: boolean;
  readonly problems: string[];
  /**
   * Another snapstore command holds the state directory's lock: the pid, and what is
   * seen half done that its step in progress accounts for (a problem once it has ended).
   */
  readonly busy: { readonly pid: number; readonly unsettled: string[] } | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface StatusOptions {
  readonly stateDir: string;
  /** one snapshot (default: all) */
  readonly name?: string;
  readonly platform?: Platform;
}

function health(status: SnapshotStatus | undefined): Health {
  if (!status) return 'unknown';
  switch (status.state) {
    case 'active':
      return 'valid';
    case 'invalid':
      return 'invalid';
    case 'overflow':
      return 'overflow';
    case 'merge-failed':
      return 'merge-failed';
    default:
      return 'unknown';
  }
}

/** Another command holding the state lock (a caller of ours holding it is not another). */
function otherHolder(stateDir: StateDir): number | undefined {
  const pid = stateLockHolder(stateDir);
  return pid === process.pid ? undefined : pid;
}

/**
 * What the kernel shows against the manifest: `problems` whatever runs, `unsettled` what a
 * step in progress also leaves for a moment (each a problem once no command is running, with
 * `snapstore recover` for a way out).
 */
type Seen = { readonly status: SnapshotStatus | undefined; readonly live: boolean; readonly merging: boolean; readonly snapshotDevice: string | null; readonly problems: string[]; readonly unsettled: string[] };

const RECOVER = ': `snapstore recover`';

/** A suspended device: the watcher's --on-full abort holds it on purpose; any other suspension is a step in progress, or left by one that stopped. */
function noteSuspended(m: SnapshotManifest, dev: string, problems: string[], unsettled: string[]): void {
  if (m.writesStopped === dev) problems.push(`${dev} is suspended by the watcher's --on-full abort: its store could not grow`);
  else unsettled.push(`${dev} is suspended`);
}

/** An update's devices against its state. */
function seenUpdate(dm: Platform['dm'], m: SnapshotManifest): Seen {
  const dev = updateDevice(m.name);
  const { device: info, kind, cow } = inspectUpdate(dm, m.name);
  const status = kind === 'snapshot' || kind === 'merge' ? parseSnapshotStatus(dm.status(dev)[0]?.params ?? '') : undefined;
  const gone = kind === 'absent' && !cow;
  const wanted: Record<SnapshotState, (() => boolean) | undefined> = {
    creating: undefined,
    active: () => kind === 'snapshot' || gone,
    'rollback-pending': () => kind === 'snapshot' || gone,
    merging: () => kind === 'merge' || gone,
    committing: undefined,
    discarding: undefined,
    'rolling-back': undefined,
    committed: () => gone || (kind === 'passthrough' && !cow),
    'rolled-back': () => gone,
    discarded: () => gone,
  };
  const problems: string[] = [];
  const unsettled: string[] = [];
  const check = wanted[m.state];
  if (check && !check()) unsettled.push(`the kernel has ${dev} ${kind === 'absent' ? 'absent' : `as ${kind}`}${cow ? ` with ${cow.name}` : ''}, which is not what "${m.state}" calls for`);
  if (info?.suspended) noteSuspended(m, dev, problems, unsettled);
  return { status, live: kind === 'snapshot', merging: kind === 'merge', snapshotDevice: info ? nodePath(dev) : null, problems, unsettled };
}

/** A checkpoint's devices against its state. */
function seenCheckpoint(dm: Platform['dm'], m: SnapshotManifest): Seen {
  const d = m.origin.dmName!;
  const n = stackNames(m.name);
  const s = inspectStack(dm, m.name, d);
  let status: SnapshotStatus | undefined;
  if (s.originKind === 'origin' && s.snap) status = parseSnapshotStatus(dm.status(n.snap)[0]?.params ?? '');
  if (s.originKind === 'merge') status = parseSnapshotStatus(dm.status(d)[0]?.params ?? '');
  const live = s.originKind === 'origin' && s.snap !== undefined;
  const bare = s.originKind === 'plain' && !s.real && !s.cow && !s.snap;
  const wanted: Record<SnapshotState, (() => boolean) | undefined> = {
    creating: undefined,
    active: () => live || bare,
    'rollback-pending': () => live || (s.originKind === 'plain' && !s.real),
    merging: () => s.originKind === 'merge' || (s.originKind === 'plain' && !s.real),
    committing: undefined,
    discarding: undefined,
    'rolling-back': undefined,
    committed: () => bare,
    'rolled-back': () => bare,
    discarded: () => bare,
  };
  const problems: string[] = [];
  const unsettled: string[] = [];
  const check = wanted[m.state];
  if (!s.origin && !isFinished(m.state)) problems.push(`the origin ${d} is not present`);
  if (check && !check()) unsettled.push(`the kernel has ${d} ${s.originKind === 'plain' ? 'on its own table' : `as ${s.originKind}`}${[s.real, s.cow, s.snap].some(Boolean) ? ` with ${[s.real && n.real, s.cow && n.cow, s.snap && n.snap].filter(Boolean).join(', ')}` : ''}, which is not what "${m.state}" calls for`);
  if (s.origin?.suspended) noteSuspended(m, d, problems, unsettled);
  return { status, live, merging: s.originKind === 'merge', snapshotDevice: live ? nodePath(n.snap) : null, problems, unsettled };
}

function report(platform: Platform, stateDir: StateDir, m: SnapshotManifest, holderBefore: number | undefined): SnapshotReport {
  const dm = platform.dm;
  const store = findManifest(stateDir, m.store);
  const seen = m.mode === 'update' ? seenUpdate(dm, m) : seenCheckpoint(dm, m);
  const { status } = seen;
  const unsettled = [...seen.unsettled];
  if (m.state === 'creating' || m.state === 'committing' || m.state === 'discarding' || m.state === 'rolling-back') unsettled.push(`"${m.state}" is a step that has not finished`);
  const cow = dm.find(stackNames(m.name).cow);
  if (cow && store && !isFinished(m.state) && tableSectors(dm.table(cow.name)) * 512 !== store.usableBytes) {
    unsettled.push(`${cow.name} maps ${formatBytes(tableSectors(dm.table(cow.name)) * 512)}, the store's manifest ${formatBytes(store.usableBytes)} (an extension has not finished)`);
  }
  // With no command running, what is half done was left by one that stopped. The lock is
  // looked at before and after the kernel is read: a step seen half done held it at one of
  // the two, unless it began and ended within the read (milliseconds; no step is that short).
  const holder = holderBefore ?? otherHolder(stateDir);
  const problems = holder === undefined ? [...seen.problems, ...unsettled.map((u) => `${u}${RECOVER}`)] : [...seen.problems];
  if (m.invalid) problems.push(m.mode === 'update' ? 'the kernel invalidated the snapshot: the update in it is incomplete' : 'the kernel invalidated the snapshot: the rollback is lost');
  const usage =
    status?.state === 'active'
      ? {
          used: sectorsToBytes(status.allocated),
          free: sectorsToBytes((status.total - status.allocated) as typeof status.total),
          total: sectorsToBytes(status.total),
          usedPercent: status.total > 0 ? Math.round((status.allocated / status.total) * 1000) / 10 : 0,
        }
      : null;
  return {
    name: m.name,
    mode: m.mode,
    state: m.state,
    origin: { dmName: m.origin.dmName ?? null, device: m.origin.dmName !== undefined ? nodePath(m.origin.dmName) : originLabel(m) },
    snapshotDevice: seen.snapshotDevice,
    store: { name: m.store, file: store?.file ?? null, size: store?.usableBytes ?? null, pending: Boolean(m.storePending) },
    chunkSize: m.chunkSize,
    usage,
    fill: fillOf(stateDir, m.name, usage),
    bootAttempts: m.bootAttempts ? { used: m.bootAttempts.used, budget: m.bootAttempts.budget, spent: Boolean(m.bootAttempts.spent) } : null,
    mergeRemaining: seen.merging && status?.state === 'active' ? sectorsToBytes((status.allocated - status.metadata) as typeof status.total) : null,
    health: isFinished(m.state) ? 'finished' : m.invalid ? 'invalid' : status ? health(status) : 'inactive',
    agrees: problems.length === 0,
    problems,
    busy: holder === undefined ? null : { pid: holder, unsettled },
    createdAt: m.createdAt,
    updatedAt: m.updatedAt,
  };
}

/** The watcher's fill rate and the time to full at that rate from the usage now. */
function fillOf(stateDir: StateDir, name: string, usage: SnapshotReport['usage']): SnapshotReport['fill'] {
  const r = usage ? freshFillRecord(stateDir, name) : undefined;
  if (!r || !usage) return null;
  return { bytesPerSecond: r.bytesPerSecond, secondsToFull: r.bytesPerSecond > 0 ? Math.round(usage.free / r.bytesPerSecond) : null, measuredAt: r.at };
}

/** Reports on one snapshot or all of them. Reads only: no lock is taken, nothing is changed. */
export function snapshotStatus(options: StatusOptions): SnapshotReport[] {
  const stateDir = StateDir.need(options.stateDir);
  const own = options.platform === undefined ? DeviceMapper.open() : undefined;
  const platform = options.platform ?? linuxPlatform(own!);
  try {
    const names = options.name !== undefined ? [options.name] : snapshotNames(stateDir, (d) => fs.readdirSync(d));
    const before = otherHolder(stateDir);
    return names.map((name) => report(platform, stateDir, readSnapshot(stateDir, name), before));
  } finally {
    own?.close();
  }
}
