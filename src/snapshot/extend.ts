/**
 * `snapstore extend NAME`: a live snapshot's store grown online. The store
 * layer grows and proves the file and writes the new map first
 * (store/extend.ts); only then is the COW device reloaded with the old plus
 * new segments under one short suspend (build.ts ensureCow), and the
 * snapshot picks the size up live (docs/design.md "Growth is picked up
 * live"). A crash between the two leaves a manifest ahead of the kernel,
 * which `recover` and `activate` catch up.
 *
 * The extension hazard (docs/design.md "Extension hazard"): a checkpoint's
 * store lives on the filesystem it protects, and a block the update freed
 * may now be handed to the store. A new block joins the map only if the
 * filesystem as it was at create (read from the snapshot device) called it
 * free, and it has no exception yet; the rest stay allocated to the file,
 * left out of its map.
 */
import { SnapstoreError } from '../errors.js';
import type { StoreSegment } from '../fiemap/align.js';
import { parseSnapshotStatus } from '../dm/status.js';
import type { StoreManifest } from '../store/manifest.js';
import { readManifest } from '../store/manifest.js';
import type { FreeSpace } from '../store/free-space.js';
import { isFree } from '../store/free-space.js';
import type { Bytes, ChunkSize } from '../units/units.js';
import { alignUp, bytes, chunkSize, formatBytes } from '../units/units.js';
import type { SizeOrShare } from '../units/size-spec.js';
import { ensureCow } from './build.js';
import { checkStoreFsUnsnapshotted } from './checks.js';
import { Operation, withLifecycle, withPlatform, type LifecycleOptions } from './context.js';
import { StateDir } from '../state/state-dir.js';
import { readSnapshot, type SnapshotManifest } from './manifest.js';
import { stackNames, tableSectors } from './stack.js';
import { updateDevice } from './update-stack.js';

export interface ExtendOptions extends LifecycleOptions {
  readonly name: string;
  /** grow by this much, or to this usable size (one of the two) */
  readonly by?: Bytes;
  readonly to?: Bytes;
  /** room the store's filesystem keeps for everyone else (default: DEFAULT_KEEP_FREE of it) */
  readonly keepFree?: KeepFree;
  /** the free space of the filesystem as it was at create, kept here by a caller that extends often (the watcher): it never changes */
  readonly freeCache?: { value?: FreeSpace };
  /** grow by less than asked when the filesystem has less room (after --keep-free); refused only when it has none */
  readonly upToRoom?: boolean;
}

/** A reserve: bytes, or a share of the filesystem's size. */
export type KeepFree = SizeOrShare;

/** 5% of the store's filesystem stays free for the update and everyone else (the blocks ext4 keeps for root come on top). */
export const DEFAULT_KEEP_FREE: KeepFree = { percent: 5 };

export interface ExtendResult {
  readonly name: string;
  readonly store: string;
  /** usable store bytes before and after */
  readonly before: Bytes;
  readonly after: Bytes;
  /** allocated to the store file but left out of its map (the extension hazard) */
  readonly heldBack: Bytes;
  /** with `upToRoom`: the filesystem's room gave the file less than asked */
  readonly cutByRoom: boolean;
  readonly mapGeneration: number;
  readonly message: string;
}

/** The test-only switch that turns the hazard check off, to show the VM test catches what it prevents. */
const HAZARD_CHECK_OFF = 'SNAPSTORE_TEST_NO_HAZARD_CHECK';

/** The chunks of `segments` that pass `keep`, as segments again (store offsets assigned by the store layer). */
export function keepChunks(segments: readonly StoreSegment[], chunk: ChunkSize, keep: (physical: number) => boolean): StoreSegment[] {
  const out: StoreSegment[] = [];
  for (const s of segments) {
    let run: { fileOffset: number; physical: number; length: number } | undefined;
    for (let at = 0; at < s.length; at += chunk.bytes) {
      const p = s.physical + at;
      if (keep(p)) {
        if (run) run.length += chunk.bytes;
        else run = { fileOffset: s.fileOffset + at, physical: p, length: chunk.bytes };
      } else if (run) {
        out.push({ storeOffset: bytes(0), fileOffset: bytes(run.fileOffset), physical: bytes(run.physical), length: bytes(run.length) });
        run = undefined;
      }
    }
    if (run) out.push({ storeOffset: bytes(0), fileOffset: bytes(run.fileOffset), physical: bytes(run.physical), length: bytes(run.length) });
  }
  return out;
}

/** The device whose status says how full the store is: the snapshot's. */
export function usageDevice(m: { readonly mode: 'checkpoint' | 'update'; readonly name: string }): string {
  return m.mode === 'update' ? updateDevice(m.name) : stackNames(m.name).snap;
}

/** The snapshot is live and valid: a store that is not mapped, or an Invalid snapshot, is not grown. */
function checkLive(op: Operation): void {
  const m = op.manifest;
  if (m.state !== 'active' && m.state !== 'rollback-pending') {
    throw new SnapstoreError('BAD_STATE', `snapshot "${m.name}" is ${m.state}: only a live snapshot's store is grown`, { hint: '`snapstore status` shows where it stands' });
  }
  const dev = usageDevice(op.manifest);
  if (!op.dm.find(dev) || !op.dm.find(stackNames(m.name).cow)) {
    throw new SnapstoreError('BAD_STATE', `snapshot "${m.name}" is not live (${dev} is not there)`, { hint: 'after a reboot, `snapstore activate` first' });
  }
  const status = parseSnapshotStatus(op.dm.status(dev)[0]?.params ?? '');
  if (status.state !== 'active') {
    throw new SnapstoreError('BAD_STATE', `snapshot "${m.name}" is ${status.state}: growing its store brings nothing back`, {
      hint: m.mode === 'checkpoint' ? 'the rollback is lost; `snapstore commit` drops the snapshot' : 'the update in it is incomplete; `snapstore rollback` drops it',
    });
  }
}

/** What `--to`/`--by` ask for, in whole chunks. */
function growth(options: ExtendOptions, store: StoreManifest, chunk: ChunkSize): Bytes {
  if ((options.by === undefined) === (options.to === undefined)) {
    throw new SnapstoreError('USAGE', 'give exactly one of --by SIZE and --to SIZE', { hint: 'snapstore extend NAME --by 1G', usage: true });
  }
  const want = options.by ?? bytes(Math.max(0, options.to! - store.usableBytes));
  if (want <= 0) {
    throw new SnapstoreError('BAD_SIZE', `store "${store.name}" is ${formatBytes(store.usableBytes)} already, not less than ${formatBytes(options.to!)}`, { hint: 'give a larger --to, or --by', usage: true });
  }
  return alignUp(want, chunk.bytes);
}

/** The bytes kept free on a filesystem of `size` bytes. */
export function keepFreeBytes(keep: KeepFree, size: Bytes): Bytes {
  return 'bytes' in keep ? keep.bytes : bytes(Math.ceil((size * keep.percent) / 100));
}

/**
 * A store on the filesystem its writer fills takes at most half the room a step: each
 * block the update writes into free space costs a block of the filesystem and one of
 * the store, so a store that took it all would leave the update none (and stop growing
 * with its writer still going).
 */
const ROOM_SHARE_ON_ORIGIN = 0.5;

/** Whether the store lives on the filesystem the checkpoint protects (its blocks then fall under the hazard). */
function storeOnOrigin(m: SnapshotManifest, store: StoreManifest): boolean {
  return m.mode === 'checkpoint' && (store.device.dmName === m.origin.dmName || (m.beneath !== undefined && store.device.dmName === m.beneath.crypt));
}

/**
 * The admission of new blocks for a store on the origin's filesystem: free at
 * create, no exception. The free space is read on first use (after the store
 * layer found room: a doomed extension costs no filesystem read) and kept in
 * `cache`.
 */
function hazardAdmission(op: Operation, store: StoreManifest, cache: { value?: FreeSpace }): (s: readonly StoreSegment[]) => Promise<StoreSegment[]> {
  const n = stackNames(op.name);
  if (op.manifest.beneath !== undefined) {
    throw new SnapstoreError('STORE_CANNOT_GROW', `store "${store.name}" is on the filesystem inside ${op.manifest.beneath.crypt}, beneath which the snapshot sits: its free space at create cannot be read without the key, so no new block can be shown safe`, {
      hint: 'make the store large enough at create for a snapshot beneath a crypt layer',
    });
  }
  const chunk = chunkSize(store.chunkSize);
  return async (segments) => {
    const free = (cache.value ??= await op.platform.freeSpace(op.dm.info(n.snap).dev, store.filesystem.type));
    // Read after the proof: its own writes through the filesystem made exceptions too.
    const excepted = op.platform.exceptionChunks(op.dm.info(n.cow).dev, chunk);
    return keepChunks(segments, chunk, (p) => isFree(free, p, p + chunk.bytes) && !excepted.has(p / chunk.bytes));
  };
}

export async function extendSnapshot(options: ExtendOptions): Promise<ExtendResult> {
  const log = options.log ?? (() => {});
  return withLifecycle(options, false, async (platform, lock) => {
    const op = new Operation(platform, lock, readSnapshot(lock.dir, options.name), log);
    checkLive(op);
    const m = op.manifest;
    const settled = platform.settleExtension(lock, m.store);
    if (settled) op.say(settled);
    const store = readManifest(lock.dir, m.store);
    const chunk = chunkSize(store.chunkSize);
    const add = growth(options, store, chunk);
    let admit: ((s: readonly StoreSegment[]) => Promise<StoreSegment[]>) | undefined;
    if (!storeOnOrigin(op.manifest, store)) checkStoreFsUnsnapshotted(platform, store.file);
    else if (process.env[HAZARD_CHECK_OFF] === '1') op.say(`warning: ${HAZARD_CHECK_OFF} is set: new blocks join the map unchecked (a test of the hazard check; never in use)`);
    else admit = hazardAdmission(op, store, options.freeCache ?? {});
    const keepFree = keepFreeBytes(options.keepFree ?? DEFAULT_KEEP_FREE, platform.filesystem(store.file).sizeBytes);
    const r = await platform.extendStore(lock, { name: store.name, add, keepFree, log: (l) => op.say(l), ...(options.upToRoom ? { upToRoom: true, roomShare: storeOnOrigin(m, store) ? ROOM_SHARE_ON_ORIGIN : 1 } : {}), ...(admit ? { admit } : {}) });
    const real = m.mode === 'checkpoint' ? op.dm.find(stackNames(m.name).real) : undefined;
    await ensureCow(op, r.manifest, real);
    const after = r.manifest.usableBytes;
    return {
      name: m.name,
      store: store.name,
      before: store.usableBytes,
      after,
      heldBack: r.heldBackBytes,
      cutByRoom: r.manifest.fileSize - store.fileSize < add,
      mapGeneration: r.manifest.mapGeneration ?? 0,
      message:
        `store "${store.name}" of snapshot "${m.name}" grew from ${formatBytes(store.usableBytes)} to ${formatBytes(after)}, live` +
        (r.heldBackBytes > 0 ? `; ${formatBytes(r.heldBackBytes)} of the new blocks held back (used by the filesystem at create, or written since: the extension hazard)` : ''),
    };
  });
}

/**
 * A live snapshot caught up with its store's manifest after an extension cut
 * short: a file longer than its manifest cut back (once its filesystem is
 * there), a COW device behind its map grown. Says what it did. `recover`
 * and a starting watcher call it.
 */
export async function catchUpGrowth(op: Operation): Promise<string[]> {
  const done: string[] = [];
  try {
    const settled = op.platform.settleExtension(op.lock, op.manifest.store);
    if (settled) done.push(settled);
  } catch (err) {
    if (!(err instanceof SnapstoreError)) throw err;
    done.push(`the interrupted extension of store "${op.manifest.store}" could not be undone yet (${err.message}): recover again once its filesystem is mounted`);
  }
  const n = stackNames(op.name);
  if (!op.dm.find(n.cow)) return done;
  const before = tableSectors(op.dm.table(n.cow));
  await ensureCow(op, readManifest(op.lock.dir, op.manifest.store), op.manifest.mode === 'checkpoint' ? op.dm.find(n.real) : undefined);
  if (tableSectors(op.dm.table(n.cow)) !== before) done.push(`grew ${n.cow} to the store's map (its extension was interrupted after the map was written)`);
  return done;
}

/** The same for one snapshot by name, under the lock: what a watcher does when it starts. */
export function catchUpStore(options: LifecycleOptions & { readonly name: string }): Promise<string[]> {
  return withLifecycle(options, false, async (platform, lock) => {
    const op = new Operation(platform, lock, readSnapshot(lock.dir, options.name), options.log ?? (() => {}));
    checkLive(op);
    return catchUpGrowth(op);
  });
}

/**
 * The free space of snapshot `name`'s filesystem as it was at create, when its
 * growth falls under the extension hazard (else undefined): read once by a
 * watcher when it starts, so that no extension under pressure waits for it.
 * Reads only; takes no lock.
 */
export async function freeAtCreate(options: LifecycleOptions & { readonly name: string }): Promise<FreeSpace | undefined> {
  return withPlatform(options.platform, async (platform) => {
    const stateDir = StateDir.need(options.stateDir);
    const m = readSnapshot(stateDir, options.name);
    const store = readManifest(stateDir, m.store);
    // Beneath a crypt layer the snapshot device holds ciphertext: such a store is never grown (hazardAdmission).
    const snap = platform.dm.find(stackNames(m.name).snap);
    return storeOnOrigin(m, store) && m.beneath === undefined && snap ? platform.freeSpace(snap.dev, store.filesystem.type) : undefined;
  });
}
