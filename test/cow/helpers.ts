import { createHash } from 'node:crypto';
import { type ChunkSize, bytes, chunkSize, chunks } from '../../src/units/units.js';
import { MemoryIo } from '../../src/cow/io.js';
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
