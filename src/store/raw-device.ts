/**
 * Reads and writes the store through its map on the raw block device, never
 * through the file: unwritten extents read as zeros through the filesystem,
 * and the page cache must not hide what is on the disk (O_DIRECT).
 */
import * as fs from 'node:fs';
import type { StoreSegment } from '../fiemap/align.js';
import { allocAligned, openDirect, preadFull, pwriteFull } from '../linux/direct-io.js';
import { fdatasync } from '../linux/fs.js';
import { logicalBlockSize } from '../linux/blockdev.js';
import type { Bytes } from '../units/units.js';
import { alignDown, alignUp, bytes } from '../units/units.js';

export interface DevicePiece {
  readonly physical: Bytes;
  readonly length: Bytes;
  /** where this piece starts within the requested range */
  readonly at: Bytes;
}

/** Splits a range of the store into the device ranges that hold it. */
export function storeRangeOnDevice(segments: readonly StoreSegment[], offset: Bytes, length: Bytes): DevicePiece[] {
  const pieces: DevicePiece[] = [];
  let lo = 0;
  let hi = segments.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (segments[mid]!.storeOffset <= offset) lo = mid;
    else hi = mid - 1;
  }
  let pos: number = offset;
  const end = offset + length;
  for (let i = lo; i < segments.length && pos < end; i++) {
    const s = segments[i]!;
    if (pos < s.storeOffset || pos >= s.storeOffset + s.length) break;
    const n = Math.min(end, s.storeOffset + s.length) - pos;
    pieces.push({ physical: bytes(s.physical + (pos - s.storeOffset)), length: bytes(n), at: bytes(pos - offset) });
    pos += n;
  }
  if (pos < end) throw new RangeError(`store range ${offset}+${length} runs past the store's map at byte ${pos}`);
  return pieces;
}

export class RawStore {
  private readonly fd: number;
  readonly blockSize: Bytes;

  constructor(
    readonly node: string,
    private readonly segments: readonly StoreSegment[],
    writable: boolean,
  ) {
    this.fd = openDirect(node, writable);
    this.blockSize = logicalBlockSize(this.fd, node);
  }

  /** Reads device bytes [physical, physical+length), both multiples of the block size. */
  readDevice(physical: Bytes, length: number): Buffer {
    const buf = allocAligned(length);
    try {
      preadFull(this.fd, buf.buffer, physical, this.node);
      return Buffer.from(buf.buffer);
    } finally {
      buf.free();
    }
  }

  /** Reads any range of the store; O_DIRECT's alignment is handled here. */
  read(offset: Bytes, length: Bytes): Buffer {
    const out = Buffer.alloc(length);
    for (const p of storeRangeOnDevice(this.segments, offset, length)) {
      const start = alignDown(p.physical, this.blockSize);
      const end = alignUp(bytes(p.physical + p.length), this.blockSize);
      const data = this.readDevice(start, end - start);
      data.copy(out, p.at, p.physical - start, p.physical - start + p.length);
    }
    return out;
  }

  /** Writes whole blocks of the store (offset and length multiples of the device's block size). */
  write(offset: Bytes, data: Buffer): void {
    if (offset % this.blockSize !== 0 || data.length % this.blockSize !== 0) {
      throw new RangeError(`raw write of ${data.length} bytes at store byte ${offset} is not aligned to ${this.node}'s ${this.blockSize}-byte blocks`);
    }
    for (const p of storeRangeOnDevice(this.segments, offset, bytes(data.length))) {
      const buf = allocAligned(p.length);
      try {
        data.copy(buf.buffer, 0, p.at, p.at + p.length);
        pwriteFull(this.fd, buf.buffer, p.physical, this.node);
      } finally {
        buf.free();
      }
    }
  }

  flush(): void {
    fdatasync(this.fd, this.node);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
