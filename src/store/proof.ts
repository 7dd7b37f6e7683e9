/**
 * Proves a store's map: a distinct signature is written through the
 * filesystem at the start of every segment, then read back from the raw
 * device at the mapped offset. A map that lies about even one segment fails.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { SnapstoreError } from '../errors.js';
import type { StoreSegment } from '../fiemap/align.js';
import { fromNodeError } from '../linux/errors.js';
import { fsync } from '../linux/fs.js';
import type { ChunkSize } from '../units/units.js';
import { bytes } from '../units/units.js';
import type { RawStore } from './raw-device.js';

const SIGNATURE_BYTES = 512;
const MAGIC = 'SNAPSTORE-PROOF\n';

function signature(nonce: Buffer, index: number, s: StoreSegment): Buffer {
  const buf = Buffer.alloc(SIGNATURE_BYTES);
  buf.write(`${MAGIC}${nonce.toString('hex')} segment ${index} file ${s.fileOffset} device ${s.physical}\n`);
  return buf;
}

/** Writes one signature per segment through the file and makes them durable. */
export function writeSignatures(fd: number, path: string, segments: readonly StoreSegment[]): Buffer {
  const nonce = randomBytes(16);
  segments.forEach((s, i) => {
    try {
      fs.writeSync(fd, signature(nonce, i, s), 0, SIGNATURE_BYTES, s.fileOffset);
    } catch (err) {
      throw fromNodeError(err, 'pwrite', path);
    }
  });
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

