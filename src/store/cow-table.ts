/**
 * The store as a `linear` table over its filesystem's device, one segment a
 * line, in the text `dmsetup create` reads (512-byte sectors).
 */
import type { DeviceNumber } from '../linux/device-number.js';
import { formatDeviceNumber } from '../linux/device-number.js';
import type { StoreSegment } from '../fiemap/align.js';
import { SECTOR_BYTES } from '../units/units.js';

/** Writes a non-negative safe integer in decimal at `pos`; returns the end. */
function writeDecimal(buf: Buffer, pos: number, n: number): number {
  let digits = 1;
  for (let t = n; t >= 10; t = (t - (t % 10)) / 10) digits++;
  const end = pos + digits;
  for (let t = n, i = end - 1; i >= pos; i--) {
    const d = t % 10;
    buf[i] = 48 + d;
    t = (t - d) / 10;
  }
  return end;
}

/**
 * The table as bytes. Written digit by digit into one buffer: for 100k
 * segments, formatting strings and joining them costs several times more
 * than the FIEMAP call itself. Segments are chunk-aligned (alignToChunks), so
 * every division by the sector size is exact.
 */
export function linearTableBuffer(segments: readonly StoreSegment[], device: DeviceNumber): Buffer {
  const target = Buffer.from(` linear ${formatDeviceNumber(device)} `);
  // Each number is at most 16 digits (below 2^53).
  const buf = Buffer.allocUnsafe(segments.length * (3 * 16 + 2 + target.length + 1));
  let pos = 0;
  for (const s of segments) {
    pos = writeDecimal(buf, pos, s.storeOffset / SECTOR_BYTES);
    buf[pos++] = 32;
    pos = writeDecimal(buf, pos, s.length / SECTOR_BYTES);
    pos += target.copy(buf, pos);
    pos = writeDecimal(buf, pos, s.physical / SECTOR_BYTES);
    buf[pos++] = 10;
  }
  return buf.subarray(0, pos);
}

export function linearTableLines(segments: readonly StoreSegment[], device: DeviceNumber): string[] {
  const text = linearTableBuffer(segments, device).toString('latin1');
  return text ? text.slice(0, -1).split('\n') : [];
}
