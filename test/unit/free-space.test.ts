// The free-space readers' parsing (store/free-space.ts): ranges joined and
// sorted, device bytes from xfs's per-group numbers, and the refusals
// (bigalloc, a group without its list, an extent past its group).
import { describe, expect, it } from 'vitest';
import { isFree, parseDumpe2fs, parseXfsFreesp } from '../../src/store/free-space.js';
import { parseSizeOrShare } from '../../src/units/size-spec.js';

const ext4 = `Block size:               1024
Group 0: (Blocks 1-8192) csum 0x2d3a [ITABLE_ZEROED]
  Free blocks: 7897-8192
  Free inodes: 12-2024
Group 1: (Blocks 8193-16384) csum 0x210b [INODE_UNINIT, ITABLE_ZEROED]
  Free blocks: 8193-8200, 8300, 8959-16384
Group 2: (Blocks 16385-24576) [INODE_UNINIT, BLOCK_UNINIT]
  Free blocks: 
`;

describe('parseDumpe2fs', () => {
  it('joins neighbouring ranges across groups and counts bytes', () => {
    const f = parseDumpe2fs(ext4);
    expect([...f.starts]).toEqual([7897 * 1024, 8300 * 1024, 8959 * 1024]);
    expect([...f.ends]).toEqual([8201 * 1024, 8301 * 1024, 16385 * 1024]);
    expect(f.bytes).toBe((296 + 8 + 1 + 7426) * 1024);
    expect(isFree(f, 7897 * 1024, 8201 * 1024)).toBe(true);
    expect(isFree(f, 8200 * 1024, 8202 * 1024)).toBe(false);
    expect(isFree(f, 8300 * 1024, 8301 * 1024)).toBe(true);
    expect(isFree(f, 0, 1024)).toBe(false);
  });
  it.each([
    ['bigalloc', ext4.replace('Block size:               1024', 'Block size:               1024\nCluster size:             16384'), /bigalloc/],
    ['a group without its list', ext4.replace('  Free blocks: \n', ''), /3 groups and 2/],
    ['no block size', ext4.replace(/^Block size.*\n/, ''), /no block size/],
    ['a range running backwards', ext4.replace('7897-8192', '8192-7897'), /backwards/],
  ])('refuses %s', (_what, text, message) => {
    expect(() => parseDumpe2fs(text)).toThrow(message);
  });
});

const xfs = `agblocks = 19200
blocksize = 4096
    agno    agbno      len
       0        6        1
       0       10        6
       1       10    19190
   from      to extents  blocks    pct
      1       1      16      16   0.03
`;

describe('parseXfsFreesp', () => {
  it('places each group at agno × agblocks and stops at the histogram', () => {
    const f = parseXfsFreesp(xfs);
    expect([...f.starts]).toEqual([6 * 4096, 10 * 4096, (19200 + 10) * 4096]);
    expect(f.bytes).toBe((1 + 6 + 19190) * 4096);
  });
  it('refuses an extent past its group, and output without the list', () => {
    expect(() => parseXfsFreesp(xfs.replace('19190', '19191'))).toThrow(/past its allocation group/);
    expect(() => parseXfsFreesp('agblocks = 1\nblocksize = 4096\n')).toThrow(/no free-extent list/);
  });
});

describe('parseSizeOrShare', () => {
  it('takes a size or a share', () => {
    expect(parseSizeOrShare('256M')).toEqual({ bytes: 256 << 20 });
    expect(parseSizeOrShare('7.5%')).toEqual({ percent: 7.5 });
    expect(() => parseSizeOrShare('120%')).toThrow(/more than 100%/);
    expect(() => parseSizeOrShare('x%')).toThrow(/not understood/);
  });
});
