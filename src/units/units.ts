/**
 * Units of size and position. Bytes, 512-byte sectors, filesystem blocks and
 * snapshot chunks are distinct types; they meet only through the converters
 * below, which check alignment. Values are plain numbers with checked
 * arithmetic: every constructor and operation refuses results that are not
 * safe integers (2^53 bytes is 8 PiB, beyond any device we map), which keeps
 * the 100k-extent paths fast where bigint would not be.
 */
import { SnapstoreError, type SnapstoreErrorOptions } from '../errors.js';

declare const unit: unique symbol;
type Unit<Name extends string> = number & { readonly [unit]: Name };

export type Bytes = Unit<'bytes'>;
export type Sectors = Unit<'sectors'>;
export type Chunks = Unit<'chunks'>;

export const SECTOR_BYTES = 512;

/** A value that is not a size, count or chunk size we can use. */
export class UnitError extends SnapstoreError {
  override name = 'UnitError';
  constructor(message: string, options: SnapstoreErrorOptions = {}) {
    super('BAD_VALUE', message, options);
  }
}

function checked<T extends number>(value: number | bigint, what: string): T {
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof value === 'bigint' && BigInt(n) !== value) {
    throw new UnitError(`${what} ${value} is beyond the safe integer range`);
  }
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new UnitError(`${what} ${String(value)} is not a non-negative safe integer`);
  }
  return n as T;
}

/** Where a size written by a person was not understood: the way out. */
const SIZE_HINT = 'sizes are whole bytes with an optional K, M, G, T or P suffix (binary units): 512, 64K, 1.5G';

export const bytes = (n: number | bigint): Bytes => checked<Bytes>(n, 'byte count');
export const sectors = (n: number | bigint): Sectors => checked<Sectors>(n, 'sector count');
export const chunks = (n: number | bigint): Chunks => checked<Chunks>(n, 'chunk count');

/** Checked sum of same-unit values. */
export function add<T extends number>(a: T, b: T): T {
  return checked<T>(a + b, 'sum');
}

/** Checked difference of same-unit values; refuses a negative result. */
export function sub<T extends number>(a: T, b: T): T {
  if (b > a) throw new UnitError(`difference ${a} - ${b} is negative`);
  return (a - b) as T;
}

/** Checked product of a value and a plain count. */
export function mul<T extends number>(a: T, factor: number): T {
  return checked<T>(a * factor, 'product');
}

export function alignDown<T extends number>(value: T, alignment: T | number): T {
  return (value - (value % alignment)) as T;
}

export function alignUp<T extends number>(value: T, alignment: T | number): T {
  const rem = value % alignment;
  return rem === 0 ? value : checked<T>(value + (alignment - rem), 'aligned value');
}

export function bytesToSectors(b: Bytes): Sectors {
  if (b % SECTOR_BYTES !== 0) throw new UnitError(`${b} bytes is not a whole number of 512-byte sectors`);
  return (b / SECTOR_BYTES) as Sectors;
}

export function sectorsToBytes(s: Sectors): Bytes {
  return checked<Bytes>(s * SECTOR_BYTES, 'byte count');
}

/**
 * A snapshot chunk size: a power of two, at least one sector. dm-snapshot
 * counts it in sectors; we keep both views.
 */
export interface ChunkSize {
  readonly bytes: Bytes;
  readonly sectors: Sectors;
}

const CHUNK_HINT = 'use a chunk size like 4K (the default), 16K or 64K';

export function chunkSize(b: Bytes): ChunkSize {
  if (b < SECTOR_BYTES || (b & (b - 1)) !== 0 || b > 2 ** 30) {
    throw new UnitError(`chunk size ${formatExactBytes(b)} must be a power of two between 512 bytes and 1 GiB`, {
      hint: CHUNK_HINT,
      usage: true,
    });
  }
  return { bytes: b, sectors: bytesToSectors(b) };
}

export function bytesToChunks(b: Bytes, chunk: ChunkSize): Chunks {
  if (b % chunk.bytes !== 0) {
    throw new UnitError(`${b} bytes is not a whole number of ${formatBytes(chunk.bytes)} chunks`);
  }
  return (b / chunk.bytes) as Chunks;
}

export function chunksToBytes(c: Chunks, chunk: ChunkSize): Bytes {
  return checked<Bytes>(c * chunk.bytes, 'byte count');
}

export function chunksToSectors(c: Chunks, chunk: ChunkSize): Sectors {
  return checked<Sectors>(c * chunk.sectors, 'sector count');
}

export function sectorsToChunks(s: Sectors, chunk: ChunkSize): Chunks {
  if (s % chunk.sectors !== 0) {
    throw new UnitError(`${s} sectors is not a whole number of ${chunk.sectors}-sector chunks`);
  }
  return (s / chunk.sectors) as Chunks;
}

const SUFFIXES: Record<string, number> = {
  '': 1,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
  P: 1024 ** 5,
};

/**
 * Parses a size as users write it: `512`, `64K`, `1G`, `1.5G`, `4KiB`.
 * Suffixes are binary (K = 1024). A fraction must come out as whole bytes.
 * `what` names the value in messages (`--size`). Shares and ranges:
 * size-spec.ts.
 */
export function parseSize(text: string, what = 'size'): Bytes {
  if (/^\s*\d+(?:\.\d+)?\s*[KMGTP]B\s*$/i.test(text)) {
    throw new UnitError(
      `${what} "${text}" is ambiguous (decimal or binary?); write ${text.trim().slice(0, -1)} or ${text.trim().slice(0, -1)}iB for binary units, the only kind snapstore takes`,
      { hint: SIZE_HINT, usage: true },
    );
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([KMGTP])(?:iB)?|B)?\s*$/i.exec(text);
  if (!m) {
    throw new UnitError(
      `${what} "${text}" is not understood`,
      { hint: SIZE_HINT, usage: true },
    );
  }
  const [, num = '', suffix = ''] = m;
  const factor = SUFFIXES[suffix.toUpperCase()] ?? 1;
  const [whole = '0', frac = ''] = num.split('.');
  // Exact decimal arithmetic: whole*factor + frac*factor/10^len.
  const scale = 10n ** BigInt(frac.length);
  const total = BigInt(whole) * BigInt(factor) * scale + BigInt(frac || '0') * BigInt(factor);
  if (total % scale !== 0n) {
    throw new UnitError(`${what} "${text}" is not a whole number of bytes`, { hint: SIZE_HINT, usage: true });
  }
  return bytes(total / scale);
}

/**
 * A chunk size as written on the command line: a plain size only. A share
 * of the filesystem or a range, which other size options take, makes no
 * sense for the kernel's fixed unit of copy-on-write.
 */
export function parseChunkSize(text: string): ChunkSize {
  if (/[%-]/.test(text)) {
    throw new UnitError(`chunk size "${text}" is not a plain size: a chunk size is one fixed power of two, never a share of the filesystem or a range`, { hint: CHUNK_HINT, usage: true });
  }
  return chunkSize(parseSize(text, 'chunk size'));
}

/** Human form: 1.5 GiB, 64 KiB, 512 B. */
export function formatBytes(b: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = b;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  // Rounded down, so that a size a little short of 8 MiB never reads as 8 MiB.
  const text = Number.isInteger(v) ? String(v) : (Math.floor(v * 100) / 100).toFixed(2).replace(/\.?0+$/, '');
  return `${text} ${units[i]}`;
}

/** A size a person gave, exactly: "4 KiB", but "4097 bytes" where a rounded unit would hide the odd bytes. */
export function formatExactBytes(b: number): string {
  const text = formatBytes(b);
  const [num = '', unit = 'B'] = text.split(' ');
  const power = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'].indexOf(unit);
  return Number(num) * 1024 ** power === b ? text : `${b} bytes`;
}

/** "1 extent", "3 extents". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
