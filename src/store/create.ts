/**
 * `store create`: allocate, prove, pin and record a store file. Everything
 * it makes is undone through one guard unless it reaches the end.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SnapstoreError } from '../errors.js';
import { mapOpenFile } from '../fiemap/map-file.js';
import type { FileMap } from '../fiemap/map-file.js';
import { sameSegment } from '../fiemap/align.js';
import { checkFilesystem } from '../fiemap/filesystems.js';
import { blockDeviceInfo } from '../linux/blockdev.js';
import { isErrno, fromNodeError } from '../linux/errors.js';
import { fallocate, fstatfs, fsync, openOrThrow, setImmutable } from '../linux/fs.js';
import type { Bytes, ChunkSize } from '../units/units.js';
import { bytes, formatBytes, plural } from '../units/units.js';
import { fileIdentity } from './file-identity.js';
import { deviceIdentity } from './identity.js';
import type { StoreManifest } from './manifest.js';
import { manifestExists, mapChecksum, MANIFEST_VERSION, writeManifest } from './manifest.js';
import { checkStoreName } from './names.js';
import { checkPlacement } from './placement.js';
import { checkSignatures, writeSignatures, zeroHeader } from './proof.js';
import { openRawStore } from './raw-device.js';
import { withStateLock } from './state-dir.js';
import { unlinkDurable } from './atomic-write.js';
import { readCreationRecord, removeCreationRecord, unfinishedCreation, writeCreationRecord } from './creation-record.js';

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
}

const ZERO_BLOCK = 1 << 20;
/** header + first metadata area + at least one data chunk */
const MIN_CHUNKS = 3;

function sameSegments(a: FileMap, b: FileMap): boolean {
  return a.segments.length === b.segments.length && a.segments.every((s, i) => sameSegment(s, b.segments[i]!));
}

function writeZeros(fd: number, file: string, size: Bytes, onProgress?: (done: Bytes, total: Bytes) => void): void {
  const block = Buffer.alloc(ZERO_BLOCK);
  for (let done = 0; done < size; ) {
    const n = Math.min(ZERO_BLOCK, size - done);
    try {
      fs.writeSync(fd, block, 0, n, done);
    } catch (err) {
      throw fromNodeError(err, 'pwrite', file);
    }
    done += n;
    onProgress?.(bytes(done), size);
  }
}

export async function createStore(options: CreateStoreOptions): Promise<StoreManifest> {
  const log = options.log ?? (() => {});
  const name = checkStoreName(options.name);
  const { size, chunk } = options;
  if (size % chunk.bytes !== 0 || size < chunk.bytes * MIN_CHUNKS) {
    throw new SnapstoreError(
      'BAD_SIZE',
      `store size ${formatBytes(size)} must be a whole number of ${formatBytes(chunk.bytes)} chunks and at least ${MIN_CHUNKS} chunks`,
      { hint: 'pick a size like 512M or 2G' },
    );
  }
  return withStateLock(options.stateDir, async () => {
    if (manifestExists(options.stateDir, name)) {
      throw new SnapstoreError('STORE_EXISTS', `a store named "${name}" already exists in ${options.stateDir}`, {
        hint: 'choose another name, or `snapstore store delete` the old one',
      });
    }
    if (readCreationRecord(options.stateDir, name)) throw unfinishedCreation(options.stateDir, name);
    // The filesystem first: on tmpfs or btrfs, the directory's permissions are beside the point.
    const parent = path.dirname(path.resolve(options.file));
    if (fs.existsSync(parent)) {
      const dirFd = openOrThrow(parent, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
      try {
        const info = fstatfs(dirFd, parent);
        checkFilesystem(parent, info);
        // Root's fallocate may take the blocks ext4 reserves for root: the
        // system's emergency space. A store never does.
        if (size > info.availableBytes) {
          throw new SnapstoreError(
            'ENOSPC',
            `the filesystem of ${parent} has ${formatBytes(info.availableBytes)} available, less than the ${formatBytes(size)} store; nothing was created`,
            { hint: 'free space there or ask for a smaller --size (the blocks reserved for root are never used for a store)' },
          );
        }
      } finally {
        fs.closeSync(dirFd);
      }
    }
    const file = checkPlacement(options.file);

    // Before the file exists: a crash from here on leaves a record of it.
    const startedAt = new Date().toISOString();
    writeCreationRecord(options.stateDir, { name, file, startedAt });
    let fd: number;
    try {
      fd = fs.openSync(
        file,
        fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
        0o600,
      );
    } catch (err) {
      removeCreationRecord(options.stateDir, name);
      if (isErrno(err, 'EEXIST')) {
        throw new SnapstoreError('PATH_EXISTS', `${file} appeared while we were checking it; nothing was created`, {
          hint: 'choose a path that does not exist',
        });
      }
      throw fromNodeError(err, 'open', file);
    }
    try {
      writeCreationRecord(options.stateDir, { name, file, identity: fileIdentity(fd, file), startedAt });
      log(`allocating ${formatBytes(size)} at ${file}`);
      try {
        fallocate(fd, file, bytes(0), size);
      } catch (err) {
        if (isErrno(err, 'ENOSPC')) {
          throw new SnapstoreError('ENOSPC', `the filesystem of ${file} has no room for a ${formatBytes(size)} store (fallocate: ENOSPC)`, {
            hint: 'free space there or ask for a smaller --size',
          });
        }
        throw err;
      }
      if (options.zero) {
        log('writing zeros over the whole store');
        writeZeros(fd, file, size, options.onProgress);
      }
      fsync(fd, file);

      const before = mapOpenFile(fd, file, chunk);
      log(
        `mapped ${plural(before.rawExtentCount, 'extent')} into ${plural(before.segments.length, 'segment')} on ${before.filesystem.type} (device ${before.device.major}:${before.device.minor}); usable ${formatBytes(before.usableBytes)}` +
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

      log(`proving the map: a signature into each of ${plural(before.segments.length, 'segment')}`);
      const nonce = writeSignatures(fd, file, before.segments);
      setImmutable(fd, file, true);
      const after = mapOpenFile(fd, file, chunk);
      if (!sameSegments(before, after)) {
        throw new SnapstoreError('MAP_CHANGED', `the extents of ${file} moved while it was being proved`, {
          hint: 'something is defragmenting or moving files on that filesystem; run again',
        });
      }
      const device = blockDeviceInfo(after.device);
      const raw = openProofDevice(device.node, after.segments);
      try {
        checkSignatures(raw, nonce, after.segments, file);
        log(`read back every signature from ${device.node}; zeroing the store header`);
        zeroHeader(raw, chunk, file);
      } finally {
        raw.close();
      }

      const manifest: StoreManifest = {
        version: MANIFEST_VERSION,
        kind: 'file',
        name,
        file,
        ...fileIdentity(fd, file),
        fileSize: after.fileSize,
        usableBytes: after.usableBytes,
        droppedBytes: after.droppedBytes,
        chunkSize: chunk.bytes,
        filesystem: { type: after.filesystem.type, blockSize: after.filesystem.blockSize },
        device: await deviceIdentity(device),
        segments: after.segments,
        mapSha256: mapChecksum(after.segments),
        createdAt: new Date().toISOString(),
      };
      writeManifest(options.stateDir, manifest);
      removeCreationRecord(options.stateDir, name);
      log(`store "${name}" recorded in ${options.stateDir}`);
      return manifest;
    } catch (err) {
      throw undoCreate(err, fd, file, () => removeCreationRecord(options.stateDir, name));
    } finally {
      fs.closeSync(fd);
    }
  });
}

/** The raw device for the proof; a refusal to write it is explained, not just reported. */
function openProofDevice(node: string, segments: FileMap['segments']) {
  try {
    return openRawStore(node, segments, true);
  } catch (err) {
    if (isErrno(err, 'EPERM') || isErrno(err, 'EACCES') || isErrno(err, 'EROFS')) {
      throw new SnapstoreError('RAW_DEVICE_DENIED', `the map cannot be proved: writing ${node} directly was refused (${(err as { code: string }).code})`, {
        hint: 'this system forbids writing a device with a mounted filesystem (a sandbox, a security module, or a kernel built without CONFIG_BLK_DEV_WRITE_MOUNTED); the store cannot be used on that filesystem',
        cause: err,
      });
    }
    throw err;
  }
}

/** Removes a half-made store and says so in the error; says what is left if that fails. */
function undoCreate(err: unknown, fd: number, file: string, forget: () => void): unknown {
  let left: string | undefined;
  try {
    setImmutable(fd, file, false);
    unlinkDurable(file);
    forget();
  } catch (cleanupErr) {
    left = `${file} could not be removed (${(cleanupErr as Error).message}); remove it by hand: chattr -i ${file}; rm ${file}`;
  }
  const note = left ?? `nothing was left behind (${file} removed)`;
  if (err instanceof SnapstoreError) {
    return new SnapstoreError(err.code, `${err.message}; ${note}`, { ...(err.hint ? { hint: err.hint } : {}), cause: err });
  }
  const e = err as Error & { code?: string };
  return new SnapstoreError(e.code ?? 'CREATE_FAILED', `creating the store failed: ${e.message}; ${note}`, { cause: err });
}
