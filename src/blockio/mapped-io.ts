/**
 * A store read through its extent map on the raw device, never through the
 * store file: the file's extents are unwritten after fallocate and read as
 * zeros through the filesystem, while the kernel wrote the real data to the
 * device underneath (docs/design.md, FIEMAP).
 */
import { type Bytes, bytes, formatBytes } from '../units/units.js';
import type { Mapping } from '../units/range.js';
import { SnapstoreError } from '../errors.js';
import { type BlockIo, checkRange } from './block-io.js';
import { lastStartingAtOrBefore } from '../util/bisect.js';

export class MappedIo implements BlockIo {
  readonly size: Bytes;
  readonly name: string;
  private readonly extents: readonly Mapping<Bytes>[];

  /**
   * `extents` (store offset `start` lies at device offset `offset`) must
   * cover the store from 0 without gaps and lie inside the device.
   */
  constructor(
    private readonly device: BlockIo,
    extents: readonly Mapping<Bytes>[],
    name?: string,
  ) {
    this.extents = [...extents].sort((a, b) => a.start - b.start);
    this.name = name ?? `store mapped on ${device.name}`;
    let end = 0;
    for (const e of this.extents) {
      if (e.start !== end) {
        throw new SnapstoreError(
          'COW_MAP_GAP',
          `the store map of ${this.name} has a ${e.start > end ? 'gap' : 'overlap'} at store byte ${Math.min(e.start, end)}`,
          { hint: 'a store map must cover the store from byte 0 without holes; re-map the store file' },
        );
      }
      if (e.offset + e.length > device.size) {
        throw new SnapstoreError(
          'COW_MAP_BEYOND_DEVICE',
          `the store extent at store byte ${e.start} (${formatBytes(e.length)} at device byte ${e.offset}) lies beyond the end of ${device.name} (${device.size} bytes)`,
          { hint: 'the map belongs to another device; give the device the store file lives on' },
        );
      }
      end = e.start + e.length;
    }
    this.size = bytes(end);
  }

  /** The pieces of [offset, offset+length) on the device, in order. */
  private pieces(offset: number, length: number): { physical: Bytes; at: number; length: number }[] {
    const out: { physical: Bytes; at: number; length: number }[] = [];
    let pos = offset;
    for (let i = lastStartingAtOrBefore(this.extents, (e) => e.start, offset); pos < offset + length; i++) {
      const e = this.extents[i]!;
      const into = pos - e.start;
      const n = Math.min(e.length - into, offset + length - pos);
      out.push({ physical: bytes(e.offset + into), at: pos - offset, length: n });
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
