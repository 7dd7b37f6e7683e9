import { createHash } from 'node:crypto';
import { type Bytes, type ChunkSize, bytes, chunkSize, chunks } from '../../src/units/units.js';
import { type BlockIo, MemoryIo } from '../../src/blockio/index.js';
import { CowWriter } from '../../src/cow/writer.js';

export const K4 = chunkSize(bytes(4096));

export function sha(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** Deterministic bytes: every 4-byte word names the seed and its position. */
export function pattern(length: number, seed: number): Buffer {
  const buf = Buffer.alloc(length);
  for (let i = 0; i + 4 <= length; i += 4) buf.writeUInt32LE((Math.imul(seed + 1, 2654435761) ^ i) >>> 0, i);
  return buf;
}

/** A store holding one exception per old chunk, data = pattern(chunk, 1000 + old). */
export function buildStore(
  oldChunks: readonly number[],
  options: { chunk?: ChunkSize; storeChunks?: number } = {},
): { store: MemoryIo; writer: CowWriter } {
  const chunk = options.chunk ?? K4;
  const epa = chunk.bytes / 16;
  const needed = 2 + oldChunks.length + Math.ceil((oldChunks.length + 1) / epa) + 1;
  const store = MemoryIo.zeroed(bytes((options.storeChunks ?? needed) * chunk.bytes), 'store');
  const writer = CowWriter.create(store, chunk);
  for (const old of oldChunks) writer.append(chunks(old), pattern(chunk.bytes, 1000 + old));
  writer.commit();
  return { store, writer };
}

/**
 * A disk with a volatile write cache: writes are visible to reads at once but
 * become durable only at flush. `powerLoss()` gives the disk as it would be
 * after the power went: unflushed writes gone. Tests flush ordering, which
 * kill -9 (page cache intact) cannot.
 */
export class VolatileCacheIo implements BlockIo {
  private pending: { offset: number; data: Buffer }[] = [];
  constructor(
    private readonly durable: Buffer,
    readonly name: string,
  ) {}
  get size(): Bytes {
    return bytes(this.durable.length);
  }
  read(offset: Bytes, length: Bytes): Buffer {
    const out = Buffer.from(this.durable.subarray(offset, offset + length));
    for (const p of this.pending) {
      const from = Math.max(offset, p.offset);
      const to = Math.min(offset + length, p.offset + p.data.length);
      if (from < to) p.data.copy(out, from - offset, from - p.offset, to - p.offset);
    }
    return out;
  }
  write(offset: Bytes, data: Buffer): void {
    if (offset + data.length > this.durable.length) throw new RangeError('write past end');
    this.pending.push({ offset, data: Buffer.from(data) });
  }
  flush(): void {
    for (const p of this.pending) p.data.copy(this.durable, p.offset);
    this.pending = [];
  }
  close(): void {}
  /** What a reboot would find. */
  powerLoss(): Buffer {
    return Buffer.from(this.durable);
  }
}

/** The origin as an uninterrupted merge must leave it: each exception's data at its old chunk. */
export function referenceMerge(origin: Buffer, olds: readonly number[], chunkBytes: number): Buffer {
  const out = Buffer.from(origin);
  for (const old of olds) {
    const at = old * chunkBytes;
    if (at < out.length) pattern(chunkBytes, 1000 + old).copy(out, at, 0, Math.min(chunkBytes, out.length - at));
  }
  return out;
}
