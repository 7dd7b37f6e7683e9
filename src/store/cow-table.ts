/**
 * The store as a `linear` table over its filesystem's device, one segment a
 * line, in the text `dmsetup create` reads (512-byte sectors).
 */
import type { DeviceNumber } from '../linux/device-number.js';
import { formatDeviceNumber } from '../linux/device-number.js';
import type { StoreSegment } from '../fiemap/align.js';
import { SegmentColumns } from '../fiemap/align.js';
import { SECTOR_BYTES } from '../units/units.js';

/** Writes a non-negative safe integer in decimal at `pos`; returns the end. */
function writeDecimal(buf: Buffer, pos: number, n: number): number {
  let digits = 1;
  for (let p = 10; n >= p && digits < 16; p *= 10) digits++;
  const end = pos + digits;
  let i = end - 1;
  let t = n;
  // Above 2^31 in doubles (exact: t - d is a multiple of 10), below in int32 math.
  for (; t >= 0x80000000; i--) {
    const d = t % 10;
    buf[i] = 48 + d;
    t = (t - d) / 10;
  }
  let u = t | 0;
  for (; u >= 10; i--) {
    const q = (u / 10) | 0;
    buf[i] = 48 + u - q * 10;
    u = q;
  }
  buf[i] = 48 + u;
  return end;
}

/**
 * The table as bytes. Written digit by digit into one buffer: for 100k
 * segments, formatting strings and joining them costs several times more
 * than the FIEMAP call itself. Segments are chunk-aligned (alignToChunks), so
 * every division by the sector size is exact.
 */
export function linearTableBuffer(segments: SegmentColumns, device: DeviceNumber): Buffer {
  const target = Buffer.from(` linear ${formatDeviceNumber(device)} `);
  const { storeOffset, length, physical } = segments;
  // Each number is at most 16 digits (below 2^53).
  const buf = Buffer.allocUnsafe(segments.count * (3 * 16 + 2 + target.length + 1));
  let pos = 0;
  for (let i = 0; i < segments.count; i++) {
    pos = writeDecimal(buf, pos, storeOffset[i]! / SECTOR_BYTES);
    buf[pos++] = 32;
    pos = writeDecimal(buf, pos, length[i]! / SECTOR_BYTES);
    pos += target.copy(buf, pos);
    pos = writeDecimal(buf, pos, physical[i]! / SECTOR_BYTES);
    buf[pos++] = 10;
  }
  return buf.subarray(0, pos);
}

export function linearTableLines(segments: readonly StoreSegment[], device: DeviceNumber): string[] {
  const text = linearTableBuffer(SegmentColumns.from(segments), device).toString('latin1');
  return text ? text.slice(0, -1).split('\n') : [];
}
