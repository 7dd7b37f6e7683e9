/**
 * Proves a store's map: a distinct signature is written through the
 * filesystem at the start of every segment, then read back from the raw
 * device at the mapped offset. A map that lies about even one segment fails.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { SnapstoreError } from '../errors.js';
import type { FileMap } from '../fiemap/map-file.js';
import { mapOpenFile } from '../fiemap/map-file.js';
import type { StoreSegment } from '../fiemap/align.js';
import { sameSegment } from '../fiemap/align.js';
import type { BlockDeviceInfo } from '../linux/blockdev.js';
import { blockDeviceInfo } from '../linux/blockdev.js';
import { fromNodeError, isErrno } from '../linux/errors.js';
import { dropCachedPages, fsync, setImmutable } from '../linux/fs.js';
import type { ChunkSize } from '../units/units.js';
import { bytes, plural } from '../units/units.js';
import { SafePoints } from '../util/interrupt.js';
import type { RawStore } from './raw-device.js';
import { openRawStore } from './raw-device.js';

const SIGNATURE_BYTES = 512;
const MAGIC = 'SNAPSTORE-PROOF\n';

function signature(nonce: Buffer, index: number, s: StoreSegment): Buffer {
  const buf = Buffer.alloc(SIGNATURE_BYTES);
  buf.write(`${MAGIC}${nonce.toString('hex')} segment ${index} file ${s.fileOffset} device ${s.physical}\n`);
  return buf;
}

/** Writes one signature per segment through the file and makes them durable. */
export async function writeSignatures(fd: number, path: string, segments: readonly StoreSegment[], signal?: AbortSignal): Promise<Buffer> {
  const nonce = randomBytes(16);
  const safe = new SafePoints(signal);
  for (let i = 0; i < segments.length; i++) {
    if (i % 1024 === 0) await safe.check(`while proving the map of ${path}`);
    const s = segments[i]!;
    try {
      fs.writeSync(fd, signature(nonce, i, s), 0, SIGNATURE_BYTES, s.fileOffset);
    } catch (err) {
      throw fromNodeError(err, 'pwrite', path);
    }
  }
  fsync(fd, path);
  return nonce;
}

/** Reads each segment's first block from the raw device and checks its signature. */
export function checkSignatures(raw: RawStore, nonce: Buffer, segments: readonly StoreSegment[], file: string): void {
  segments.forEach((s, i) => {
    if (!raw.device.read(s.physical, bytes(SIGNATURE_BYTES)).equals(signature(nonce, i, s))) {
      throw new SnapstoreError(
        'MAP_PROOF_FAILED',
        `the map of ${file} is wrong: segment ${i} (file offset ${s.fileOffset}) should be at byte ${s.physical} of ${raw.device.name}, but what was written there through the filesystem is not there`,
        { hint: 'the filesystem or a layer below it does not report device addresses; the store cannot be used on it' },
      );
    }
  });
}

/** Zeroes the header chunk and the first metadata area through the raw device and checks them. */
export function zeroHeader(raw: RawStore, chunk: ChunkSize, file: string): void {
  const length = bytes(chunk.bytes * 2);
  raw.store.write(bytes(0), Buffer.alloc(length));
  raw.store.flush();
  const back = raw.store.read(bytes(0), length);
  if (back.some((b) => b !== 0)) {
    throw new SnapstoreError('MAP_PROOF_FAILED', `chunks 0 and 1 of ${file} did not read back as zeros from ${raw.device.name}`, {
      hint: 'something else writes to that device; the store cannot be used there',
    });
  }
}

function sameSegments(a: readonly StoreSegment[], b: readonly StoreSegment[]): boolean {
  return a.length === b.length && a.every((s, i) => sameSegment(s, b[i]!));
}

/** The raw device for the proof; a refusal to write it is explained, not just reported. */
function openProofDevice(node: string, segments: readonly StoreSegment[]): RawStore {
  try {
    return openRawStore(node, segments, true);
  } catch (err) {
    // EBUSY: kernels built without CONFIG_BLK_DEV_WRITE_MOUNTED (6.8+) refuse to open a mounted device for writing.
    if (isErrno(err, 'EPERM') || isErrno(err, 'EACCES') || isErrno(err, 'EROFS') || isErrno(err, 'EBUSY')) {
      throw new SnapstoreError('RAW_DEVICE_DENIED', `the map cannot be proved: writing ${node} directly was refused (${(err as { code: string }).code})`, {
        hint: 'this system forbids writing a device with a mounted filesystem (a sandbox, a security module, or a kernel built without CONFIG_BLK_DEV_WRITE_MOUNTED); the store cannot be used on that filesystem',
        cause: err,
      });
    }
    throw err;
  }
}

export interface ProofOptions {
  readonly log: (line: string) => void;
  readonly signal?: AbortSignal;
  /** zero chunks 0 and 1 on the raw device: a new store (not an extension) */
  readonly zeroHeader: boolean;
  /** how many segments there are in all (`toProve` may be a sample of them) */
  readonly of?: number;
}

/**
 * The proof step: signatures into `toProve` (segments of `before`), the
 * file pinned (immutable), mapped again and compared (nothing moved), the
 * signatures read back raw; a new store's header zeroed raw. Returns the
 * map after pinning and the device it is on.
 */
export async function proveAndPin(fd: number, file: string, chunk: ChunkSize, before: FileMap, toProve: readonly StoreSegment[], options: ProofOptions): Promise<{ map: FileMap; device: BlockDeviceInfo }> {
  const all = options.of ?? toProve.length;
  options.log(
    all === toProve.length
      ? `proving the map: a signature into each of ${plural(toProve.length, 'segment')}`
      : `proving the map: a signature into ${toProve.length} of its ${all} segments, spread over the device (--full-proof writes into every one)`,
  );
  const nonce = await writeSignatures(fd, file, toProve, options.signal);
  setImmutable(fd, file, true);
  const after = mapOpenFile(fd, file, chunk);
  if (!sameSegments(before.segments, after.segments)) {
    throw new SnapstoreError('MAP_CHANGED', `the extents of ${file} moved while it was being proved`, {
      hint: 'something is defragmenting or moving files on that filesystem; run again',
    });
  }
  const device = blockDeviceInfo(after.device);
  const raw = openProofDevice(device.node, after.segments);
  try {
    checkSignatures(raw, nonce, toProve, file);
    if (options.zeroHeader) {
      options.log(`read back every signature from ${device.node}; zeroing the store header`);
      zeroHeader(raw, chunk, file);
    } else options.log(`read back every signature from ${device.node}`);
  } finally {
    raw.close();
  }
  // The signatures are still in the file's page cache; the raw writes are not.
  dropCachedPages(fd, file);
  return { map: after, device };
}
