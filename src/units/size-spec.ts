/**
 * Sizes as a person asks for a store's size, growth or limit: a plain size
 * (`1.5G`, as parseSize), a share of the filesystem the store lives on
 * (`10%` of its size; `200%USED` of what it uses now, as snapm writes it,
 * and that may pass 100%), or a range of two of those (`1G-20%`: at least
 * 1 GiB, at most 20%, the notation of the SLX dmsetup scripts). Parsing needs
 * no filesystem, so a typo is refused before anything is read; resolving is
 * arithmetic on what statfs said, so both are tested without one.
 */
import { alignDown, bytes, formatBytes, parseSize, UnitError, type Bytes } from './units.js';

/** A plain size, exact as written. */
export interface FixedSize {
  readonly kind: 'bytes';
  readonly text: string;
  readonly bytes: Bytes;
}

/** A share of the filesystem's size (`10%`) or of what it uses (`200%USED`). */
export interface Share {
  readonly kind: 'share';
  readonly text: string;
  readonly of: 'size' | 'used';
  readonly percent: number;
}

/** At least `min`, at most `max`: it comes to `max`, once `min` is found not above it. */
export interface SizeRange {
  readonly kind: 'range';
  readonly text: string;
  readonly min: SizeBound;
  readonly max: SizeBound;
}

export type SizeBound = FixedSize | Share;
export type SizeSpec = SizeBound | SizeRange;

/** What shares are of: the filesystem holding the store, as statfs tells it. */
export interface FsUsage {
  /** f_blocks × f_bsize */
  readonly sizeBytes: Bytes;
  /** (f_blocks − f_bfree) × f_bsize: what `df` calls used (root's reserve counts as free) */
  readonly usedBytes: Bytes;
}

export interface ResolveOptions {
  /**
   * Shares are rounded down to a whole number of these (default 4096, the
   * usual page and block size); a store's size is a whole number of its
   * chunks, so callers that know the chunk size pass it. Plain sizes are
   * left as written: whoever takes them checks them as before.
   */
  readonly align?: number;
  /** the option, for messages: `--size` */
  readonly what?: string;
}

const SPEC_HINT = 'write a size (512, 64K, 1.5G), a share of the filesystem (10%), a share of what it uses (200%USED), or a range of two (1G-20%)';

/** Parses every form above; `what` names the option in messages. */
export function parseSizeSpec(text: string, what = 'size'): SizeSpec {
  const fail = (reason: string, hint = SPEC_HINT) => new UnitError(`${what} "${text}" ${reason}`, { hint, usage: true });
  const t = text.trim();
  if (t === '') throw fail('is empty');
  const parts = t.split('-').map((p) => p.trim());
  if (parts.length > 2) throw fail('has more than one "-": a range has two bounds, LOW-HIGH', 'e.g. 1G-20%');
  const [low = '', high] = parts;
  if (high === undefined) return parseBound(t, what);
  if (low === '') {
    throw fail(
      'starts with "-": a size is never negative, and a range has a lower bound before its "-"',
      high ? `write ${high} alone, or a range such as 1G-${high}` : SPEC_HINT,
    );
  }
  if (high === '') throw fail('has no upper bound after its "-"', `write ${low} alone, or a range such as ${low}-20%`);
  const bound = (side: string, which: string) => parseBound(side, `${what} "${text}": its ${which} bound`);
  return { kind: 'range', text: t, min: bound(low, 'lower'), max: bound(high, 'upper') };
}

function parseBound(t: string, what: string): SizeBound {
  const pct = t.indexOf('%');
  if (pct < 0) return { kind: 'bytes', text: t, bytes: parseSize(t, what) };
  const fail = (reason: string, hint = SPEC_HINT) => new UnitError(`${what} "${t}" ${reason}`, { hint, usage: true });
  const num = t.slice(0, pct).trim();
  const word = t.slice(pct + 1).trim();
  if (word.includes('%')) throw fail('has more than one "%"', 'write one: 20% or 20%USED');
  if (num === '') throw fail('has no number before its "%"', 'e.g. 10% (of the filesystem) or 200%USED (of what it uses)');
  if (!/^\d+(?:\.\d+)?$/.test(num)) throw fail(`is not understood: "${num}" before the "%" is not a plain number`, 'e.g. 10%, 2.5% or 200%USED');
  const of = word === '' ? 'size' : word.toUpperCase() === 'USED' ? 'used' : undefined;
  if (!of) throw fail(`ends in "%${word}": a share is of the filesystem's size (${num}%) or of what it uses (${num}%USED)`, `write ${num}% or ${num}%USED`);
  const percent = Number(num);
  if (of === 'size' && percent > 100) {
    throw fail('is more than 100% of the filesystem', `a share of the filesystem is at most 100%; of what it uses it may be more: ${num}%USED`);
  }
  if (!Number.isSafeInteger(Math.round(percent * 1e6))) throw fail('is too large a share', 'e.g. 200%USED');
  return { kind: 'share', text: t, of, percent };
}

/** Whether the spec needs its filesystem's figures (it holds a share). */
export function needsFilesystem(spec: SizeSpec): boolean {
  return spec.kind === 'range' ? needsFilesystem(spec.min) || needsFilesystem(spec.max) : spec.kind === 'share';
}

/**
 * The bytes `spec` comes to on the filesystem `fs` (needed only where it
 * holds a share). A share is rounded down (never more than it says, which
 * a limit must hold to) and refused where that leaves nothing; a range is
 * refused where its lower bound is above its upper one.
 */
export function resolveSize(spec: SizeSpec, fs: FsUsage | undefined, options: ResolveOptions = {}): Bytes {
  const what = options.what ?? 'size';
  if (spec.kind === 'bytes') return spec.bytes;
  if (spec.kind === 'share') return resolveShare(spec, fs, options.align ?? 4096, what);
  const bound = (b: SizeBound, which: string) => resolveSize(b, fs, { ...options, what: `${what} "${spec.text}": its ${which} bound` });
  const low = bound(spec.min, 'lower');
  const high = bound(spec.max, 'upper');
  if (low > high) {
    const show = (b: SizeBound, n: Bytes) => (b.kind === 'share' ? `"${b.text}" (${formatBytes(n)} here)` : `"${b.text}"`);
    throw new UnitError(`${what} "${spec.text}" is an empty range: its lower bound ${show(spec.min, low)} is above its upper bound ${show(spec.max, high)}`, {
      hint: `give a lower bound of at most ${formatBytes(high)}, or the upper bound alone (${spec.max.text})`,
      usage: true,
    });
  }
  return high;
}

function resolveShare(share: Share, fs: FsUsage | undefined, align: number, what: string): Bytes {
  if (!fs) {
    throw new UnitError(`${what} "${share.text}" is a share of a filesystem, and there is none to measure`, { hint: 'give a plain size such as 2G', usage: true });
  }
  const base = share.of === 'size' ? fs.sizeBytes : fs.usedBytes;
  // Exact: the share is counted in millionths of a percent, in bigint.
  const raw = (BigInt(base) * BigInt(Math.round(share.percent * 1e6))) / 100_000_000n;
  if (raw > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new UnitError(`${what} "${share.text}" comes to more bytes than snapstore can count`, { hint: 'give a smaller share, or a plain size', usage: true });
  }
  const n = alignDown(bytes(raw), align);
  if (n === 0) {
    const of = share.of === 'size' ? `this ${formatBytes(fs.sizeBytes)} filesystem` : `the ${formatBytes(fs.usedBytes)} this filesystem uses`;
    throw new UnitError(`${what} "${share.text}" of ${of} comes to nothing: shares are taken in whole ${formatBytes(align)} chunks`, {
      hint: 'give a larger share, or a plain size such as 64M',
      usage: true,
    });
  }
  return n;
}

/** A size given as bytes or as a share of the filesystem's size: `256M` or `5%` (a reserve: `--keep-free`). */
export type SizeOrShare = { readonly bytes: Bytes } | { readonly percent: number };

/**
 * Parses `SIZE` or `N%` (0 to 100, a fraction allowed). A reserve takes
 * neither `%USED` nor ranges: it is room for everyone else, so it follows
 * the filesystem's size, and it is resolved by the library on each store's
 * filesystem at each extension.
 */
export function parseSizeOrShare(text: string, what = 'size'): SizeOrShare {
  const spec = parseSizeSpec(text, what);
  if (spec.kind === 'bytes') return { bytes: spec.bytes };
  if (spec.kind === 'share' && spec.of === 'size') return { percent: spec.percent };
  throw new UnitError(`${what} "${text}" is ${spec.kind === 'range' ? 'a range' : 'a share of what the filesystem uses'}: a reserve is a size or a share of the filesystem's size`, {
    hint: 'e.g. 1G or 5%',
    usage: true,
  });
}
