/**
 * Growing a store: the file allocated past its end (its immutable flag
 * cleared for as short as possible), the old extents checked unchanged, the
 * new ones proved and pinned as `create` does (proof.ts), passed through the
 * caller's admission (the lifecycle leaves out blocks the extension hazard
 * forbids: docs/design.md "Extension hazard"), and the new map written as a
 * new generation of the manifest, atomically. Nothing is reloaded here: the
 * caller maps the new segments only after the manifest holds them.
 *
 * A record (`stores/NAME.extending`) is written before the file grows and
 * removed after the manifest is written; a crash in between leaves a file
 * longer than its manifest, which `settleExtension` cuts back.
 */
import * as fs from 'node:fs';
import { SnapstoreError } from '../errors.js';
import type { StoreSegment } from '../fiemap/align.js';
import { mapOfNewPart, movedSegment } from '../fiemap/grow.js';
import { mapOpenFile } from '../fiemap/map-file.js';
import { fromNodeError, isErrno } from '../linux/errors.js';
import { fallocate, fstatfs, fsync, setImmutable } from '../linux/fs.js';
import { readIntent, removeIntent, writeIntent } from '../state/intent.js';
import type { StateLock } from '../state/lock.js';
import type { Bytes } from '../units/units.js';
import { bytes, chunkSize, formatBytes, plural } from '../units/units.js';
import { withUndo } from '../util/undo.js';
import { describeMismatch, fileIdentity } from './file-identity.js';
import type { StoreManifest } from './manifest.js';
import { mapChecksum, readManifest, writeManifest } from './manifest.js';
import { proveAndPin } from './proof.js';
import { proofSample } from './proof-sample.js';

const OP = 'extending';

export interface ExtendStoreOptions {
  readonly name: string;
  /** bytes to add to the file (a whole number of chunks) */
  readonly add: Bytes;
  /** room the store's filesystem keeps for everyone else after the growth (bytes available to non-root users) */
  readonly keepFree: Bytes;
  /** take what the filesystem can give, up to `add`, rather than refuse a growth it cannot give whole */
  readonly upToRoom?: boolean;
  /** with `upToRoom`, no more than this share of the room (default 1: all of it) */
  readonly roomShare?: number;
  /**
   * Which of the new segments may join the map (in store order, store
   * offsets not yet assigned); the rest stay allocated but unmapped. Called
   * after the proof, with the file pinned again.
   */
  readonly admit?: (segments: readonly StoreSegment[]) => Promise<readonly StoreSegment[]> | readonly StoreSegment[];
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
}

export interface ExtendStoreResult {
  readonly manifest: StoreManifest;
  /** what the map gained */
  readonly addedBytes: Bytes;
  /** allocated to the file but left out of its map by `admit` */
  readonly heldBackBytes: Bytes;
}

interface Extending {
  readonly fileSize: number;
}

function check(data: unknown): Extending | undefined {
  const d = data as Partial<Extending> | null;
  return typeof d === 'object' && d !== null && Number.isSafeInteger(d.fileSize) && d.fileSize! > 0 ? { fileSize: d.fileSize! } : undefined;
}

/** A store file open (read-only: it is immutable), checked to be the file its manifest names. */
function openStoreFile(m: StoreManifest): number {
  let fd: number;
  try {
    fd = fs.openSync(m.file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    throw fromNodeError(err, 'open', m.file);
  }
  const other = describeMismatch(m.file, fileIdentity(fd, m.file), m);
  if (other) {
    fs.closeSync(fd);
    throw new SnapstoreError('STORE_STALE', `store "${m.name}": ${other}`, { hint: 'the store file was replaced: nothing was grown. Drop the snapshot (`snapstore discard`) and make a new one' });
  }
  return fd;
}

/**
 * The store file unpinned and opened for writing: an immutable file cannot
 * be opened so. The new descriptor must be the same inode as `fd` (the path
 * is not trusted twice). The caller pins it again and closes it.
 */
function unpinForWriting(fd: number, file: string): number {
  setImmutable(fd, file, false);
  let w: number;
  try {
    w = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_NOFOLLOW);
  } catch (err) {
    setImmutable(fd, file, true);
    throw fromNodeError(err, 'open', file);
  }
  const a = fs.fstatSync(fd, { bigint: true });
  const b = fs.fstatSync(w, { bigint: true });
  if (a.ino !== b.ino || a.dev !== b.dev) {
    fs.closeSync(w);
    setImmutable(fd, file, true);
    throw new SnapstoreError('STORE_STALE', `${file} was replaced while the store was being grown`, { hint: 'someone else changes files in the store folder; nothing was grown' });
  }
  return w;
}

/** Cuts the file back to `size` (the manifest's), pinned again: the tail is in no map. */
function cutBack(fd: number, file: string, size: number): void {
  const w = unpinForWriting(fd, file);
  try {
    fs.ftruncateSync(w, size);
    fsync(w, file);
  } finally {
    setImmutable(w, file, true);
    fs.closeSync(w);
  }
}

/**
 * Finishes what a crashed extension left: a file longer than its manifest is
 * cut back to the manifest's size. Returns what it did, or undefined when
 * there was nothing to do.
 */
export function settleExtension(lock: StateLock, name: string): string | undefined {
  const folder = lock.dir.folder('stores');
  const intent = folder === undefined ? undefined : readIntent(folder, name, OP, check);
  if (intent === undefined || folder === undefined) return undefined;
  const m = readManifest(lock.dir, name);
  const fd = openStoreFile(m);
  let did = `the extension record of store "${name}" removed`;
  try {
    const size = fs.fstatSync(fd).size;
    if (size > m.fileSize) {
      cutBack(fd, m.file, m.fileSize);
      did = `store "${name}": an interrupted extension undone (${m.file} cut back from ${formatBytes(size)} to ${formatBytes(m.fileSize)})`;
    }
  } finally {
    fs.closeSync(fd);
  }
  removeIntent(lock, folder, name, OP);
  return did;
}

/**
 * Refuses a growth the filesystem cannot give while keeping `keepFree` for
 * everyone else; with `upToRoom`, returns the part of it that it can give
 * (at most `roomShare` of the room, at least a chunk).
 */
function checkRoom(fd: number, m: StoreManifest, add: Bytes, keepFree: Bytes, upToRoom: boolean, roomShare = 1): Bytes {
  const info = fstatfs(fd, m.file);
  const chunk = chunkSize(m.chunkSize).bytes;
  if (info.availableBytes < keepFree + chunk) {
    throw new SnapstoreError('STORE_CANNOT_GROW', `the filesystem of store "${m.name}" (${m.file}) has ${formatBytes(info.availableBytes)} available, no more than the ${formatBytes(keepFree)} kept free: the store cannot grow`, {
      hint: 'free space on that filesystem, or lower --keep-free (the blocks reserved for root are never used)',
    });
  }
  if (upToRoom) return bytes(Math.min(add, Math.max(1, Math.floor(((info.availableBytes - keepFree) * roomShare) / chunk)) * chunk));
  if (info.availableBytes < add + keepFree) {
    throw new SnapstoreError('ENOSPC', `the filesystem of store "${m.name}" (${m.file}) has ${formatBytes(info.availableBytes)} available: growing the store by ${formatBytes(add)} would leave less than the ${formatBytes(keepFree)} kept free`, {
      hint: 'free space on that filesystem, or lower --keep-free (the blocks reserved for root are never used)',
    });
  }
  return add;
}

/** Grows store `name` by `add` bytes under the caller's lock; undoes its own work on failure. */
export async function extendStoreLocked(lock: StateLock, options: ExtendStoreOptions): Promise<ExtendStoreResult> {
  const log = options.log ?? (() => {});
  const m = readManifest(lock.dir, options.name);
  const chunk = chunkSize(m.chunkSize);
  let { add } = options;
  if (add <= 0 || add % chunk.bytes !== 0) {
    throw new SnapstoreError('BAD_SIZE', `a store grows by a whole number of its ${formatBytes(chunk.bytes)} chunks, not ${add} bytes`, { hint: 'ask for a size like 64M or 1G', usage: true });
  }
  const fd = openStoreFile(m);
  try {
    return await withUndo(async (undo) => {
      const now = mapOpenFile(fd, m.file, chunk);
      const moved = movedSegment(now.extents, m.segments);
      if (now.fileSize !== m.fileSize || moved) {
        throw new SnapstoreError('STORE_STALE', `store "${m.name}" does not match its manifest (${moved ? `the segment at file offset ${moved.fileOffset} moved` : `size ${now.fileSize}, the manifest says ${m.fileSize}`}): it is not grown`, {
          hint: 'the map is stale; `snapstore store verify` says more. Nothing was changed',
        });
      }
      add = checkRoom(fd, m, add, options.keepFree, options.upToRoom ?? false, options.roomShare);
      const folder = lock.dir.ensureFolder('stores');
      writeIntent<Extending>(lock, folder, m.name, OP, { fileSize: m.fileSize });
      undo.push(`the extension record of "${m.name}"`, () => removeIntent(lock, folder, m.name, OP));
      undo.push(`${m.file} cut back to ${formatBytes(m.fileSize)}`, () => cutBack(fd, m.file, m.fileSize));
      const newSize = bytes(m.fileSize + add);
      log(`allocating ${formatBytes(add)} more at the end of ${m.file}`);
      const w = unpinForWriting(fd, m.file);
      undo.push(`${m.file} pinned again`, () => (setImmutable(w, m.file, true), fs.closeSync(w)));
      try {
        fallocate(w, m.file, m.fileSize, add);
      } catch (err) {
        if (isErrno(err, 'ENOSPC')) {
          throw new SnapstoreError('ENOSPC', `the filesystem of ${m.file} has no room for ${formatBytes(add)} more (fallocate: ENOSPC); the store was not grown`, {
            hint: 'free space there (on xfs, blocks of deleted files are freed in the background: try again shortly)',
          });
        }
        throw err;
      }
      fsync(w, m.file);
      const before = mapOpenFile(w, m.file, chunk);
      const part = mapOfNewPart(before.extents, m.fileSize, newSize, chunk, m.usableBytes);
      // The proof writes signatures into new segments (through the file), then pins it again.
      const { map } = await proveAndPin(w, m.file, chunk, before, proofSample(part.shifted), { log, zeroHeader: false, of: part.shifted.length, ...(options.signal ? { signal: options.signal } : {}) });
      const movedNow = movedSegment(map.extents, m.segments);
      if (movedNow) {
        throw new SnapstoreError('MAP_CHANGED', `the old extents of ${m.file} moved while the store was grown (the segment at file offset ${movedNow.fileOffset})`, {
          hint: 'something moves files on that filesystem (a defragmenter?); the store was not grown and the file was cut back',
        });
      }
      const admitted = options.admit ? await options.admit(part.shifted) : part.shifted;
      const added: StoreSegment[] = [];
      let at = m.usableBytes as number;
      for (const s of admitted) {
        added.push({ ...s, storeOffset: bytes(at) });
        at += s.length;
      }
      const addedBytes = bytes(at - m.usableBytes);
      const heldBack = bytes(part.usableBytes - addedBytes);
      const segments = [...m.segments, ...added];
      const next: StoreManifest = {
        ...m,
        fileSize: newSize,
        usableBytes: bytes(at),
        droppedBytes: bytes(newSize - at),
        segments,
        mapSha256: mapChecksum(segments),
        mapGeneration: (m.mapGeneration ?? 0) + 1,
      };
      writeManifest(lock, next);
      undo.commit();
      fs.closeSync(w);
      removeIntent(lock, folder, m.name, OP);
      log(
        `store "${m.name}" grew by ${formatBytes(addedBytes)} (${plural(added.length, 'new segment')}; map generation ${next.mapGeneration})` +
          (heldBack > 0 ? `; ${formatBytes(heldBack)} allocated but left out of the map` : '') +
          (part.droppedBytes > 0 ? `; ${formatBytes(part.droppedBytes)} of unaligned edges` : ''),
      );
      return { manifest: next, addedBytes, heldBackBytes: heldBack };
    });
  } finally {
    fs.closeSync(fd);
  }
}
