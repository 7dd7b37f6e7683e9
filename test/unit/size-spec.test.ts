import { describe, expect, it } from 'vitest';
import { needsFilesystem, parseSizeOrShare, parseSizeSpec, resolveSize, type FsUsage } from '../../src/units/size-spec.js';
import { bytes, parseChunkSize, UnitError } from '../../src/units/units.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
/** A 100 GiB filesystem that uses 30 GiB. */
const fs100: FsUsage = { sizeBytes: bytes(100 * GiB), usedBytes: bytes(30 * GiB) };
/** No filesystem at hand: what a command has when the size holds no share. */
const NO_FS = null;
const at = (text: string, fs: FsUsage | null = fs100, align?: number) => resolveSize(parseSizeSpec(text, '--size'), fs ?? undefined, { what: '--size', ...(align ? { align } : {}) });

describe('parseSizeSpec', () => {
  it.each([
    ['512', { kind: 'bytes', bytes: 512 }],
    ['64K', { kind: 'bytes', bytes: 64 * KiB }],
    ['1.5G', { kind: 'bytes', bytes: 1.5 * GiB }],
    ['10%', { kind: 'share', of: 'size', percent: 10 }],
    ['2.5 %', { kind: 'share', of: 'size', percent: 2.5 }],
    ['200%USED', { kind: 'share', of: 'used', percent: 200 }],
    ['50%used', { kind: 'share', of: 'used', percent: 50 }],
    ['1G-20%', { kind: 'range', min: { kind: 'bytes', bytes: GiB }, max: { kind: 'share', of: 'size', percent: 20 } }],
    [' 10%USED - 50% ', { kind: 'range', text: '10%USED - 50%', min: { kind: 'share', of: 'used', percent: 10, text: '10%USED' }, max: { kind: 'share', of: 'size', percent: 50, text: '50%' } }],
  ])('%j', (text, want) => {
    expect(parseSizeSpec(text)).toMatchObject(want);
  });

  it('knows which forms need the filesystem', () => {
    expect(needsFilesystem(parseSizeSpec('1G-2G'))).toBe(false);
    expect(needsFilesystem(parseSizeSpec('1G-2%'))).toBe(true);
    expect(needsFilesystem(parseSizeSpec('2%USED'))).toBe(true);
  });
});

describe('resolveSize', () => {
  it('a plain size is as written, even not a multiple of anything', () => {
    expect(at('4097', NO_FS)).toBe(4097);
  });

  it('a share is of the size, %USED of what is used, and may pass 100%', () => {
    expect(at('10%')).toBe(10 * GiB);
    expect(at('200%USED')).toBe(60 * GiB);
    expect(at('400%USED')).toBe(120 * GiB);
  });

  it('a range comes to its upper bound once its lower bound is not above it', () => {
    expect(at('1G-20%')).toBe(20 * GiB);
    expect(at('10%USED-10%')).toBe(10 * GiB);
    expect(at('1G-1G', NO_FS)).toBe(GiB);
  });

  it('rounds a share down to whole 4 KiB, or to the chunk size given', () => {
    const small: FsUsage = { sizeBytes: bytes(1_000_000), usedBytes: bytes(0) };
    expect(at('10%', small)).toBe(98_304); // 100,000 bytes, down to 24 × 4 KiB
    expect(at('10%', small, 64 * KiB)).toBe(65_536);
    expect(at('10%', small, 1)).toBe(100_000);
  });

  it('counts exactly where floating point would not (0.57% of 10,000 bytes is 57)', () => {
    expect(at('0.57%', { sizeBytes: bytes(10_000), usedBytes: bytes(0) }, 1)).toBe(57);
  });

  it('a share that rounds down to nothing is refused, saying of what', () => {
    expect(() => at('0%')).toThrow('--size "0%" of this 100 GiB filesystem comes to nothing: shares are taken in whole 4 KiB chunks');
    expect(() => at('1%USED', { sizeBytes: bytes(GiB), usedBytes: bytes(100 * KiB) })).toThrow(/"1%USED" of the 100 KiB this filesystem uses comes to nothing/);
  });

  it('a share with no filesystem to measure is refused', () => {
    expect(() => at('10%', NO_FS)).toThrow(/"10%" is a share of a filesystem, and there is none to measure/);
  });

  it('a share beyond what snapstore can count is refused', () => {
    expect(() => at('99999999%USED', { sizeBytes: bytes(2 ** 52), usedBytes: bytes(2 ** 52) })).toThrow(/more bytes than snapstore can count/);
  });

  it.each([
    ['2G-1G', NO_FS, '--size "2G-1G" is an empty range: its lower bound "2G" is above its upper bound "1G"', /at most 1 GiB, or the upper bound alone \(1G\)/],
    ['1G-20%', { sizeBytes: bytes(2 * GiB), usedBytes: bytes(0) }, '--size "1G-20%" is an empty range: its lower bound "1G" is above its upper bound "20%" (409.59 MiB here)', /at most 409.59 MiB, or the upper bound alone \(20%\)/],
    ['50%-10%USED', fs100, '--size "50%-10%USED" is an empty range: its lower bound "50%" (50 GiB here) is above its upper bound "10%USED" (3 GiB here)', /at most 3 GiB/],
  ])('an empty range %j is refused once resolved', (text, fs, message, hint) => {
    const err = (() => {
      try {
        at(text, fs);
      } catch (e) {
        return e;
      }
      throw new Error('not refused');
    })();
    expect(err).toBeInstanceOf(UnitError);
    expect(err).toMatchObject({ message, usage: true, hint: expect.stringMatching(hint) });
  });
});

describe('bad sizes: each refused with the text, the reason and what to write', () => {
  it.each([
    ['', '--size "" is empty', /a share of the filesystem \(10%\)/],
    ['%', '--size "%" has no number before its "%"', /10%.*200%USED/],
    ['20%%', '--size "20%%" has more than one "%"', /20% or 20%USED/],
    ['-5%', '--size "-5%" starts with "-": a size is never negative, and a range has a lower bound before its "-"', /write 5% alone, or a range such as 1G-5%/],
    ['-1G', '--size "-1G" starts with "-": a size is never negative, and a range has a lower bound before its "-"', /write 1G alone/],
    ['-', '--size "-" starts with "-": a size is never negative, and a range has a lower bound before its "-"', /1G-20%/],
    ['150%', '--size "150%" is more than 100% of the filesystem', /at most 100%; of what it uses it may be more: 150%USED/],
    ['1G-', '--size "1G-" has no upper bound after its "-"', /write 1G alone, or a range such as 1G-20%/],
    ['10%USED-', '--size "10%USED-" has no upper bound after its "-"', /10%USED-20%/],
    ['1G-2G-3G', '--size "1G-2G-3G" has more than one "-": a range has two bounds, LOW-HIGH', /1G-20%/],
    ['1.5', '--size "1.5" is not a whole number of bytes', /whole bytes/],
    ['1.5-20%', '--size "1.5-20%": its lower bound "1.5" is not a whole number of bytes', /whole bytes/],
    ['1G-150%', '--size "1G-150%": its upper bound "150%" is more than 100% of the filesystem', /150%USED/],
    ['5MB-10%', '--size "5MB-10%": its lower bound "5MB" is ambiguous (decimal or binary?); write 5M or 5MiB for binary units, the only kind snapstore takes', /binary units/],
    ['20%FREE', '--size "20%FREE" ends in "%FREE": a share is of the filesystem\'s size (20%) or of what it uses (20%USED)', /write 20% or 20%USED/],
    ['1G%', '--size "1G%" is not understood: "1G" before the "%" is not a plain number', /2.5%/],
    ['x', '--size "x" is not understood', /whole bytes/],
  ])('%j', (text, message, hint) => {
    const err = (() => {
      try {
        parseSizeSpec(text, '--size');
      } catch (e) {
        return e;
      }
      throw new Error('not refused');
    })();
    expect(err).toBeInstanceOf(UnitError);
    expect(err).toMatchObject({ code: 'BAD_VALUE', message, usage: true, hint: expect.stringMatching(hint) });
  });
});

describe('parseChunkSize', () => {
  it('takes a plain power of two', () => {
    expect(parseChunkSize('64K').bytes).toBe(64 * KiB);
  });
  it.each(['10%', '1%USED', '4K-64K'])('refuses %j: a chunk size is never a share or a range', (text) => {
    expect(() => parseChunkSize(text)).toThrow(`chunk size "${text}" is not a plain size: a chunk size is one fixed power of two, never a share of the filesystem or a range`);
  });
  it('says which value was not understood', () => {
    expect(() => parseChunkSize('4X')).toThrow('chunk size "4X" is not understood');
    expect(() => parseChunkSize('3K')).toThrow(/must be a power of two/);
  });
});

describe('parseSizeOrShare (--keep-free): a size or a share of the filesystem only', () => {
  it.each([
    ['10%USED', /"10%USED" is a share of what the filesystem uses: a reserve is a size or a share of the filesystem's size/],
    ['1G-5%', /"1G-5%" is a range: a reserve is a size or a share/],
  ])('refuses %j', (text, message) => {
    expect(() => parseSizeOrShare(text)).toThrow(message);
  });
  it('still takes 0%: keep nothing free', () => {
    expect(parseSizeOrShare('0%')).toEqual({ percent: 0 });
  });
});
