/**
 * A store read through its extent map on the raw device, never through the
 * store file: the file's extents are unwritten after fallocate and read as
 * zeros through the filesystem, while the kernel wrote the real data to the
 * device underneath (DESIGN.md, FIEMAP).
 */
import { type Bytes, bytes, formatBytes } from '../units/units.js';
import { SnapstoreError } from '../errors.js';
import { type BlockIo, checkRange } from './io.js';
import { lastStartingAtOrBefore } from '../util/bisect.js';

/** One piece of the store: `length` bytes at store offset `logical` live at device offset `physical`. */
export interface StoreExtent {
  readonly logical: Bytes;
  readonly physical: Bytes;
  readonly length: Bytes;
}

export class MappedIo implements BlockIo {
  readonly size: Bytes;
  readonly name: string;
  private readonly extents: readonly StoreExtent[];

  /** `extents` must cover the store from 0 without gaps and lie inside the device. */
  constructor(
    private readonly device: BlockIo,
    extents: readonly StoreExtent[],
    name?: string,
  ) {
    this.extents = [...extents].sort((a, b) => a.logical - b.logical);
    this.name = name ?? `store mapped on ${device.name}`;
    let end = 0;
    for (const e of this.extents) {
      if (e.logical !== end) {
        throw new SnapstoreError(
          'COW_MAP_GAP',
          `the store map of ${this.name} has a ${e.logical > end ? 'gap' : 'overlap'} at store byte ${Math.min(e.logical, end)}`,
          { hint: 'a store map must cover the store from byte 0 without holes; re-map the store file' },
        );
      }
      if (e.physical + e.length > device.size) {
        throw new SnapstoreError(
          'COW_MAP_BEYOND_DEVICE',
          `the store extent at store byte ${e.logical} (${formatBytes(e.length)} at device byte ${e.physical}) lies beyond the end of ${device.name} (${device.size} bytes)`,
          { hint: 'the map belongs to another device; give the device the store file lives on' },
        );
      }
      end = e.logical + e.length;
    }
    this.size = bytes(end);
  }

  /** The pieces of [offset, offset+length) on the device, in order. */
  private pieces(offset: number, length: number): { physical: Bytes; at: number; length: number }[] {
    const out: { physical: Bytes; at: number; length: number }[] = [];
    let pos = offset;
    for (let i = lastStartingAtOrBefore(this.extents, (e) => e.logical, offset); pos < offset + length; i++) {
      const e = this.extents[i]!;
      const into = pos - e.logical;
      const n = Math.min(e.length - into, offset + length - pos);
      out.push({ physical: bytes(e.physical + into), at: pos - offset, length: n });
      pos += n;
    }
    return out;
  }

  read(offset: Bytes, length: Bytes): Buffer {
    checkRange(this, 'read', offset, length);
    const parts = this.pieces(offset, length);
    if (parts.length === 1) return this.device.read(parts[0]!.physical, length);
    return Buffer.concat(parts.map((p) => this.device.read(p.physical, bytes(p.length))));
  }

  write(offset: Bytes, data: Buffer): void {
    checkRange(this, 'write', offset, data.length);
    for (const p of this.pieces(offset, data.length)) {
      this.device.write(p.physical, data.subarray(p.at, p.at + p.length));
    }
  }

  flush(): void {
    this.device.flush();
  }

  close(): void {
    this.device.close();
  }
}
