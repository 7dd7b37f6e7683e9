/**
 * `store create`: allocate, map, prove, pin and record a store file, each a
 * step of its own (allocate.ts, proof.ts, manifest.ts) that `extend` reuses.
 * Everything it makes is undone through one undo stack unless it reaches
 * the end; a create killed outright leaves its intent record for `store
 * delete` to clean up.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SnapstoreError } from '../errors.js';
import { mapOpenFile } from '../fiemap/map-file.js';
import { formatDeviceNumber } from '../linux/device-number.js';
import type { StateLock } from '../state/lock.js';
import { withStateLock } from '../state/lock.js';
import { checkName, statePaths } from '../state/names.js';
import { requireRoot, StateDir } from '../state/state-dir.js';
import type { Bytes, ChunkSize } from '../units/units.js';
import { formatBytes, formatExactBytes, plural } from '../units/units.js';
import { withUndo } from '../util/undo.js';
import { allocateNewFile, checkRoomFor } from './allocate.js';
import { creatingExists, removeCreating, unfinishedCreation, writeCreating } from './creating.js';
import { fileIdentity } from './file-identity.js';
import { deviceIdentity } from './identity.js';
import type { StoreManifest } from './manifest.js';
import { manifestExists, mapChecksum, MANIFEST_VERSION, writeManifest } from './manifest.js';
import { checkPlacement } from './placement.js';
import { proveAndPin } from './proof.js';
import { proofSample } from './proof-sample.js';

export interface CreateStoreOptions {
  readonly name: string;
  readonly file: string;
  readonly size: Bytes;
  readonly chunk: ChunkSize;
  readonly stateDir: string;
  /** write zeros over the whole file before mapping */
  readonly zero?: boolean;
  /** narration: one line per step */
  readonly log?: (line: string) => void;
  /** progress of --zero, in bytes */
  readonly onProgress?: (done: Bytes, total: Bytes) => void;
  /** prove every segment, not a sample spread over the device (proof-sample.ts) */
  readonly fullProof?: boolean;
  /** stops the work at a safe point (SIGINT, SIGTERM); what was made is undone */
  readonly signal?: AbortSignal;
}

/** header + first metadata area + at least one data chunk */
export const MIN_CHUNKS = 3;

export async function createStore(options: CreateStoreOptions): Promise<StoreManifest> {
  const { name, file } = precheck(options);
  const existing = StateDir.find(options.stateDir);
  if (existing) {
    if (manifestExists(existing, name)) throw storeExists(existing, name);
    if (creatingExists(existing, name)) throw unfinishedCreation(existing, name);
  }
  const stateDir = StateDir.ensure(options.stateDir, options.log);
  return withStateLock(stateDir, (lock) =>
    withUndo(async (undo) => {
      if (!existing) undo.push(`the state directory ${stateDir.path}`, () => removeEmptyStateDir(stateDir));
      return createStoreLocked(lock, { ...options, name, file });
    }),
  );
}

/** The checks that need nothing made: name, size, the filesystem and the place of the file. */
function precheck(options: CreateStoreOptions): { name: string; file: string } {
  requireRoot(`store create needs root to make ${options.file}: it pins the file immutable, proves its map on the raw block device and records it in the root-owned state directory ${options.stateDir}`);
  const name = checkName(options.name);
  const { size, chunk } = options;
  if (size % chunk.bytes !== 0 || size < chunk.bytes * MIN_CHUNKS) {
    throw new SnapstoreError('BAD_SIZE', `store size ${formatExactBytes(size)} must be a whole number of ${formatBytes(chunk.bytes)} chunks and at least ${MIN_CHUNKS} chunks`, {
      hint: 'pick a size like 512M or 2G',
      usage: true,
    });
  }
  // The filesystem first (on tmpfs or btrfs the directory's permissions are beside the point).
  const parent = path.dirname(path.resolve(options.file));
  if (fs.existsSync(parent)) checkRoomFor(parent, size);
  return { name, file: checkPlacement(options.file) };
}

/**
 * The same, for a caller that holds the state directory's lock (the
 * snapshot lifecycle makes its store this way). Undoes its own work on failure.
 */
export async function createStoreLocked(lock: StateLock, options: CreateStoreOptions): Promise<StoreManifest> {
  const log = options.log ?? (() => {});
  const { name, file } = precheck(options);
  const { size, chunk } = options;
  const stateDir = lock.dir;
  return withUndo(async (undo) => {
    if (manifestExists(stateDir, name)) throw storeExists(stateDir, name);
    if (creatingExists(stateDir, name)) throw unfinishedCreation(stateDir, name);
    // Before the file exists: a crash from here on leaves a record of it.
    const { startedAt } = writeCreating(lock, name, { file });
    undo.push(`the creation record of "${name}"`, () => removeCreating(lock, name));
    log(`allocating ${formatBytes(size)} at ${file}`);
    if (options.zero) log('writing zeros over the whole store');
    const fd = await allocateNewFile(undo, {
      file,
      size,
      zero: options.zero,
      onProgress: options.onProgress,
      signal: options.signal,
      created: (fd) => writeCreating(lock, name, { file, identity: fileIdentity(fd, file) }, startedAt),
    });

    const before = mapOpenFile(fd, file, chunk);
    log(
      `mapped ${plural(before.rawExtentCount, 'extent')} into ${plural(before.segments.length, 'segment')} on ${before.filesystem.type} (device ${formatDeviceNumber(before.device)}); usable ${formatBytes(before.usableBytes)}` +
        (before.droppedBytes ? `, ${formatBytes(before.droppedBytes)} of unaligned edges left out` : ''),
    );
    if (before.droppedBytes > size * 0.05) {
      log(`warning: ${Math.round((before.droppedBytes / size) * 100)}% of the file is left out of the map: its extents are small for a ${formatBytes(chunk.bytes)} chunk; a smaller --chunk-size wastes less`);
    }
    if (before.usableBytes < chunk.bytes * MIN_CHUNKS) {
      throw new SnapstoreError('BAD_SIZE', `only ${formatBytes(before.usableBytes)} of ${file} is chunk-aligned on the device`, {
        hint: 'use a smaller --chunk-size or a larger --size',
      });
    }
    const toProve = options.fullProof ? before.segments : proofSample(before.segments);
    const { map, device } = await proveAndPin(fd, file, chunk, before, toProve, { log, signal: options.signal, zeroHeader: true, of: before.segments.length });

    const manifest: StoreManifest = {
      version: MANIFEST_VERSION,
      kind: 'file',
      name,
      file,
      ...fileIdentity(fd, file),
      fileSize: map.fileSize,
      usableBytes: map.usableBytes,
      droppedBytes: map.droppedBytes,
      chunkSize: chunk.bytes,
      filesystem: { type: map.filesystem.type, blockSize: map.filesystem.blockSize },
      device: await deviceIdentity(device),
      segments: map.segments,
      mapSha256: mapChecksum(map.segments),
        provedSegments: toProve.length,
      createdAt: new Date().toISOString(),
    };
    writeManifest(lock, manifest);
    undo.commit();
    fs.closeSync(fd);
    removeCreating(lock, name);
    log(`store "${name}" recorded in ${stateDir.path}`);
    return manifest;
  });
}

/** Takes back a state directory this command made (its lock, an empty stores/), leaving it as it was: absent. */
function removeEmptyStateDir(stateDir: StateDir): void {
  fs.rmSync(statePaths.lock(stateDir.path), { force: true });
  const stores = statePaths.stores(stateDir.path);
  if (fs.existsSync(stores)) fs.rmdirSync(stores);
  fs.rmdirSync(stateDir.path);
}

function storeExists(stateDir: StateDir, name: string): SnapstoreError {
  return new SnapstoreError('STORE_EXISTS', `a store named "${name}" already exists in ${stateDir.path}`, {
    hint: 'choose another name, or `snapstore store delete` the old one',
  });
}
