/**
 * `snapstore create`: a checkpoint before the update. The store is made,
 * proved and pinned first (its blocks must be the store's when the snapshot
 * is taken); then, as LVM does for a mounted origin, the origin's table
 * moves to `real`, the store is mapped as `cow`, and under one suspend of
 * the origin the snapshot is attached. Everything is undone through one
 * undo stack unless it reaches the end; a crash leaves the state "creating",
 * which `snapstore recover` undoes.
 */
import * as fs from 'node:fs';
import { formatTable } from '../dm/table-text.js';
import type { Target } from '../dm/targets.js';
import { OtherTarget } from '../dm/targets.js';
import { SnapstoreError } from '../errors.js';
import { checkName, endsLikeARole, statePaths } from '../state/names.js';
import type { Bytes, ChunkSize } from '../units/units.js';
import { bytes, formatBytes } from '../units/units.js';
import { withUndo } from '../util/undo.js';
import { attachSnapshot, dropStack, ensureCow, ensureReal } from './build.js';
import { agentStateWarnings, checkOrigin, checkStateDirOffOrigin, checkStoreFsUnsnapshotted, checkUpdateOrigin, type Warning } from './checks.js';
import { attachUpdate, updateDevice } from './update-stack.js';
import { attempts, bootBudget } from './boot-attempts.js';
import type { DeviceNumber } from '../linux/device-number.js';
import { Operation, withLifecycle, withPlatform, type LifecycleOptions } from './context.js';
import { findEnrolled } from './enroll.js';
import { faultPoint } from './faults.js';
import type { SnapshotManifest, SnapshotMode } from './manifest.js';
import { findSnapshot, SNAPSHOT_MANIFEST_VERSION, writeSnapshot } from './manifest.js';
import { LIFECYCLE_TARGETS, type Platform } from './platform.js';
import { stackNames, tableSectors } from './stack.js';
import { isFinished } from './states.js';
import { unlinkDurable } from '../state/files.js';
import { StateDir } from '../state/state-dir.js';

export interface CreateSnapshotOptions extends LifecycleOptions {
  readonly name: string;
  /** the origin device, e.g. /dev/mapper/data */
  readonly origin: string;
  /** the store file to make (must not exist) */
  readonly store: string;
  readonly size: Bytes;
  readonly chunk: ChunkSize;
  readonly mode: SnapshotMode;
  /** print every table and step, change nothing */
  readonly dryRun?: boolean;
  /** prove every segment of the store's map (default: a sample spread over the device) */
  readonly fullProof?: boolean;
  /** a health-gated commit: this many boots may try the update; the next one, if none committed, rolls it back at activate */
  readonly bootAttempts?: number;
  readonly signal?: AbortSignal;
}

export interface CreatePlan {
  readonly steps: string[];
  readonly tables: { readonly device: string; readonly table: string }[];
}

export interface CreateSnapshotResult {
  readonly manifest: SnapshotManifest | undefined;
  /** what was (or, for a dry run, would be) done */
  readonly plan: CreatePlan;
  /** what is not as it should be, though the snapshot was (or would be) made: an update agent's record on the origin */
  readonly warnings: readonly Warning[];
}

/** A table as text with any crypt key masked: tables are printed, keys never are. */
export function printableTable(table: readonly Target[], features: Parameters<typeof formatTable>[1]): string {
  const masked = table.map((t) => (t instanceof OtherTarget && t.type === 'crypt' ? new OtherTarget(t.type, t.length, t.params.replace(/^(\S+\s+)(\S+)/, '$1<key hidden>')) : t));
  return formatTable(masked, features);
}

/** The plan's last step: the record, with its boot budget when there is one. */
function recordStep(o: CreateSnapshotOptions): string {
  const budget = o.bootAttempts === undefined ? '' : `, with a budget of ${attempts(o.bootAttempts)} (each boot counted by activate; the next boot after them, if none committed, rolls back)`;
  return `record the snapshot as active in ${o.stateDir}${budget}`;
}

function plan(name: string, origin: CheckedOrigin, platform: Platform, o: CreateSnapshotOptions): CreatePlan {
  const n = stackNames(name);
  const length = tableSectors(origin.table);
  const chunk = o.chunk.sectors;
  const f = platform.dm.features();
  const allocate = `allocate ${formatBytes(o.size)} at ${o.store}, map it with FIEMAP, prove the map on the raw device, pin it (immutable), zero its header`;
  if (o.mode === 'update') {
    const u = updateDevice(name);
    return {
      steps: [
        allocate,
        `create ${n.cow}: the store's extents as linear segments (known once it is allocated)`,
        `create ${u}: snapshot of ${origin.label} with ${n.cow} as its store (persistent, chunk ${chunk} sectors); ${origin.label} itself is not touched`,
        recordStep(o),
      ],
      tables: [
        { device: n.cow, table: `(the store's extents, known once it is allocated)` },
        { device: u, table: `0 ${length} snapshot ${origin.label} ${n.cow} P ${chunk}` },
      ],
    };
  }
  return {
    steps: [
      allocate,
      `create ${n.real} with ${origin.dmName!}'s table`,
      `create ${n.cow}: the store's extents as linear segments (known once it is allocated)`,
      origin.beneath
        ? `suspend ${origin.beneath.crypt} (its filesystem frozen and flushed), then ${origin.dmName!} beneath it: the snapshot goes beneath the crypt layer, the store's extents ${origin.beneath.offset} sectors further on (the crypt's data offset)`
        : `suspend ${origin.dmName!} (its filesystem frozen and flushed)`,
      `load ${origin.dmName!} with snapshot-origin over ${n.real}`,
      `create ${n.snap}: snapshot of ${n.real} with ${n.cow} as its store (persistent, chunk ${chunk} sectors)`,
      `resume ${origin.dmName!}: the snapshot is live`,
      recordStep(o),
    ],
    tables: [
      { device: n.real, table: printableTable(origin.table, f) },
      { device: n.cow, table: `(the store's extents on ${n.real}, known once it is allocated)` },
      { device: n.snap, table: `0 ${length} snapshot ${n.real} ${n.cow} P ${chunk}` },
      { device: origin.dmName!, table: `0 ${length} snapshot-origin ${n.real}` },
    ],
  };
}

export async function createSnapshot(options: CreateSnapshotOptions): Promise<CreateSnapshotResult> {
  const log = options.log ?? (() => {});
  const name = checkName(options.name, 'snapshot');
  if (endsLikeARole(name)) {
    throw new SnapstoreError('BAD_NAME', `snapshot name "${name}" ends like the name of one of a snapshot's devices (-cow, -real, -snap, -origin)`, {
      hint: 'pick a name that does not end in one of those',
      usage: true,
    });
  }
  if (options.mode !== 'checkpoint' && options.mode !== 'update') {
    throw new SnapstoreError('BAD_VALUE', `mode "${String(options.mode)}" is not checkpoint or update`, {
      hint: 'use --mode checkpoint (a mounted filesystem; rollback merges) or --mode update (the update is written into the snapshot; commit merges)',
      usage: true,
    });
  }
  if (options.bootAttempts !== undefined) bootBudget(options.bootAttempts);
  // Everything that can be refused before anything is made (not even the state directory).
  const planned = await dryRun(options, name);
  if (options.dryRun) return planned;
  const existed = StateDir.find(options.stateDir);
  const hadFolder = existed?.folder('snapshots') !== undefined;
  return withLifecycle(options, true, async (platform, lock) => {
    refuseUnfinished(findSnapshot(lock.dir, name), name);
    const origin = await checkAnyOrigin(platform, options);
    checkStateDirOffOrigin(platform, lock.dir.path, origin);
    checkStoreFsUnsnapshotted(platform, options.store);
    const left = [...Object.values(stackNames(name)), updateDevice(name)].filter((d) => platform.dm.find(d));
    if (left.length) {
      throw new SnapstoreError('STACK_MISMATCH', `devices of a snapshot named "${name}" are present already (${left.join(', ')})`, {
        hint: '`snapstore recover` removes what an earlier snapshot left; or choose another name',
      });
    }
    // Every target the snapshot's life needs, loaded now (never while a device is suspended).
    await platform.loadTargets(LIFECYCLE_TARGETS);
    const at = new Date().toISOString();
    const fsUuid = await platform.filesystemUuid(origin.dev);
    const dmUuid = origin.dmName !== undefined ? platform.dm.info(origin.dmName).uuid : '';
    const first: SnapshotManifest = {
      version: SNAPSHOT_MANIFEST_VERSION,
      name,
      mode: options.mode,
      state: 'creating',
      origin: {
        ...(origin.dmName !== undefined ? { dmName: origin.dmName } : { kernelName: origin.kernelName, ...(origin.partUuid ? { partUuid: origin.partUuid } : {}) }),
        dmUuid,
        ...(fsUuid ? { fsUuid } : {}),
        sectors: tableSectors(origin.table),
      },
      store: name,
      chunkSize: options.chunk.bytes,
      ...(origin.beneath ? { beneath: origin.beneath } : {}),
      // The boot it is made in is no attempt: the first is the next boot.
      ...(options.bootAttempts !== undefined ? { bootAttempts: { budget: options.bootAttempts, used: 0, lastBoot: platform.bootId() } } : {}),
      createdAt: at,
      updatedAt: at,
      history: [{ at, state: 'creating', note: `create (${options.mode}) over ${origin.label}` }],
    };
    return withUndo(async (undo) => {
      undo.push('what this command made of the state directory', () => removeIfMade(lock.dir, existed !== undefined, hadFolder));
      // Written before anything is made: a crash from here on is undone by `recover`.
      writeSnapshot(lock, first);
      undo.push(`the record of snapshot "${name}"`, () => unlinkDurable(statePaths.snapshotManifest(lock.dir.path, name)));
      const op = new Operation(platform, lock, first, log);
      const store = await platform.createStore(lock, {
        name,
        file: options.store,
        size: options.size,
        chunk: options.chunk,
        stateDir: options.stateDir,
        fullProof: Boolean(options.fullProof),
        log,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      undo.push(`store "${name}"`, () => platform.deleteStore(lock, name));
      faultPoint('after:store made');
      undo.push(`the devices of snapshot "${name}"`, () => dropStack(op).then(() => undefined));
      if (options.mode === 'update') {
        const cow = await ensureCow(op, store);
        await attachUpdate(op, origin.dev, cow);
        op.advance('active', `snapshot of ${origin.label} live for the update`);
        op.say(`snapshot "${name}" is live: write the update into /dev/mapper/${updateDevice(name)}; ${origin.label} is not written until commit`);
      } else {
        const real = await ensureReal(op, origin.table);
        const cow = await ensureCow(op, store, real);
        if (origin.beneath) {
          // The store's header was zeroed through the crypt layer (zeros encrypted): zeroed again beneath it, where the snapshot reads it.
          op.say(`zeroing the store's header beneath ${origin.beneath.crypt}, through ${cow.name}`);
          platform.zeroStart(cow.dev, bytes(options.chunk.bytes * 2));
        }
        await attachSnapshot(op, real, cow);
        op.advance('active', `snapshot of ${origin.label} live`);
        op.say(`snapshot "${name}" is live: ${origin.label} keeps taking writes, the old contents of every chunk it overwrites go to the store`);
      }
      return { manifest: op.manifest, plan: plan(name, origin, platform, options), warnings: planned.warnings };
    });
  });
}

/** The origin checked for the mode: a checkpoint's (a dm device whose table can move), an update's (a device nothing uses). */
interface CheckedOrigin {
  readonly dev: DeviceNumber;
  readonly dmName: string | undefined;
  readonly table: Target[];
  readonly kernelName: string | undefined;
  readonly partUuid: string | undefined;
  /** how messages name it */
  readonly label: string;
  readonly beneath?: { readonly crypt: string; readonly offset: number };
}

async function checkAnyOrigin(platform: Platform, options: CreateSnapshotOptions): Promise<CheckedOrigin> {
  if (options.mode === 'update') {
    const u = await checkUpdateOrigin(platform, options.origin);
    return { ...u, label: u.dmName ?? `/dev/${u.kernelName}` };
  }
  const c = checkOrigin(platform, options.origin);
  return { ...c, kernelName: undefined, partUuid: undefined, label: c.beneath ? `${c.dmName} (beneath the crypt layer ${c.beneath.crypt})` : c.dmName };
}

/** Everything a create would check and print, changing nothing (not even the state directory). */
/** A snapshot of that name that is not finished is refused (checked again under the lock), with what to do about it. */
function refuseUnfinished(existing: SnapshotManifest | undefined, name: string): void {
  if (existing && !isFinished(existing.state)) {
    throw new SnapstoreError('SNAPSHOT_EXISTS', `a snapshot named "${name}" exists already (${existing.state})`, {
      hint: `\`snapstore status ${name}\` shows it; commit, roll back or discard it first, or choose another name`,
    });
  }
}

async function dryRun(options: CreateSnapshotOptions, name: string): Promise<CreateSnapshotResult> {
  return withPlatform(options.platform, async (platform) => {
    const dir = StateDir.find(options.stateDir);
    refuseUnfinished(dir ? findSnapshot(dir, name) : undefined, name);
    if (dir && findEnrolled(dir, name)) {
      throw new SnapstoreError('SNAPSHOT_EXISTS', `"${name}" is the name of an enrolled device (/dev/mapper/snapstore-${name})`, { hint: 'choose another name for the snapshot' });
    }
    const origin = await checkAnyOrigin(platform, options);
    checkStateDirOffOrigin(platform, dir?.path ?? options.stateDir, origin);
    checkStoreFsUnsnapshotted(platform, options.store);
    // An update's origin is not mounted: no agent's record is on it.
    const warnings = options.mode === 'checkpoint' ? agentStateWarnings(platform, origin, origin.label) : [];
    return { manifest: undefined, plan: plan(name, origin, platform, options), warnings };
  });
}

/** Takes back the folders (and lock) a failed create made in the state directory, leaving it as it was. */
function removeIfMade(dir: StateDir, existed: boolean, hadFolder: boolean): void {
  const rmdirIfEmpty = (p: string) => {
    if (fs.existsSync(p) && fs.readdirSync(p).length === 0) fs.rmdirSync(p);
  };
  if (!hadFolder) rmdirIfEmpty(statePaths.snapshots(dir.path));
  if (!existed) {
    rmdirIfEmpty(statePaths.stores(dir.path));
    fs.rmSync(statePaths.lock(dir.path), { force: true });
    rmdirIfEmpty(dir.path);
  }
}
