/**
 * Tables as the text `dmsetup create` reads and `dmsetup table` prints: one
 * `<start> <length> <type> <params>` line a target, in 512-byte sectors.
 * One writer renders both a table of targets and a store's linear map held
 * in columns; the second is the 100,000-segment path of `snapstore map`, so
 * numbers are written digit by digit into one buffer (formatting strings and
 * joining them costs several times the FIEMAP call itself).
 */
import type { DeviceNumber } from '../linux/device-number.js';
import { formatDeviceNumber } from '../linux/device-number.js';
import { tableSpecs, type KernelFeatures, type Table } from './targets.js';

/** Each number is at most 16 digits (below 2^53). */
const MAX_DIGITS = 16;

/** Writes a non-negative safe integer in decimal at `pos`; returns the end. */
function writeDecimal(buf: Buffer, pos: number, n: number): number {
  let digits = 1;
  for (let p = 10; n >= p && digits < MAX_DIGITS; p *= 10) digits++;
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

/** Lines of `<start> <length> <rest>`, where `rest(i)` is the target type and its parameters. */
function writeLines(count: number, start: (i: number) => number, length: (i: number) => number, rest: (i: number) => Buffer, restMax: number): Buffer {
  const buf = Buffer.allocUnsafe(count * (2 * MAX_DIGITS + 3 + restMax));
  let pos = 0;
  for (let i = 0; i < count; i++) {
    pos = writeDecimal(buf, pos, start(i));
    buf[pos++] = 32;
    pos = writeDecimal(buf, pos, length(i));
    buf[pos++] = 32;
    pos += rest(i).copy(buf, pos);
    buf[pos++] = 10;
  }
  return buf.subarray(0, pos);
}

/** A table of targets as text, without dmsetup's trailing space or a final newline. */
export function formatTable(table: Table, features: KernelFeatures): string {
  const specs = tableSpecs(table, features);
  const rests = specs.map((s) => Buffer.from(s.params ? `${s.type} ${s.params}` : s.type, 'latin1'));
  const max = rests.reduce((m, r) => Math.max(m, r.length), 0);
  return writeLines(specs.length, (i) => specs[i]!.start, (i) => specs[i]!.length, (i) => rests[i]!, max).toString('latin1').replace(/\n$/, '');
}

/** A linear map held in columns, in bytes (sector multiples): each row `length` at `start` lies at `offset` of `device`. */
export interface LinearColumns {
  readonly count: number;
  readonly start: ArrayLike<number>;
  readonly length: ArrayLike<number>;
  readonly offset: ArrayLike<number>;
}

/** The `linear` table of a map in columns, as bytes of text, one line (with its newline) a row. */
export function linearTableText(rows: LinearColumns, device: DeviceNumber): Buffer {
  const prefix = `linear ${formatDeviceNumber(device)} `;
  const line = Buffer.alloc(prefix.length + MAX_DIGITS);
  line.write(prefix, 'latin1');
  const { start, length, offset } = rows;
  return writeLines(
    rows.count,
    (i) => start[i]! / 512,
    (i) => length[i]! / 512,
    (i) => line.subarray(0, writeDecimal(line, prefix.length, offset[i]! / 512)),
    line.length,
  );
}
