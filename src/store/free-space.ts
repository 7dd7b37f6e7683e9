/**
 * Which bytes of a filesystem image its own metadata calls free: the first
 * test of the extension hazard (docs/design.md "Extension hazard"), asked of
 * the snapshot device, whose view is the filesystem as it was at create.
 * Read by the filesystem's own tools, which know every on-disk variant: ext4
 * block bitmaps through `dumpe2fs` (libext2fs works out the groups whose
 * bitmaps were never initialised), xfs free-space btrees and free lists
 * through `xfs_db -r -c 'freesp -d'`. Both only read.
 */
import { SnapstoreError } from '../errors.js';
import { runProgram } from '../linux/run.js';
import type { Bytes } from '../units/units.js';

/** Free byte ranges `[start, end)` on the device, sorted and disjoint. */
export interface FreeSpace {
  readonly starts: Float64Array;
  readonly ends: Float64Array;
  readonly bytes: Bytes;
}

function unreadable(what: string): SnapstoreError {
  return new SnapstoreError('FS_UNREADABLE', `the free space of the filesystem as it was at create cannot be read: ${what}`, {
    hint: 'the store was not grown. Check the filesystem tools (e2fsprogs, xfsprogs) are installed; `snapstore status` shows how full the store is',
  });
}

/** Sorts and joins ranges given in blocks of `blockSize` bytes. */
function toFreeSpace(ranges: Array<[number, number]>, blockSize: number): FreeSpace {
  ranges.sort((a, b) => a[0] - b[0]);
  const starts: number[] = [];
  const ends: number[] = [];
  let total = 0;
  for (const [first, count] of ranges) {
    const s = first * blockSize;
    const e = (first + count) * blockSize;
    if (!Number.isSafeInteger(e)) throw unreadable(`a free range ends beyond 2^53 bytes`);
    if (ends.length && s < ends[ends.length - 1]!) throw unreadable(`free ranges overlap at byte ${s}`);
    if (ends.length && s === ends[ends.length - 1]!) ends[ends.length - 1] = e;
    else (starts.push(s), ends.push(e));
    total += e - s;
  }
  return { starts: Float64Array.from(starts), ends: Float64Array.from(ends), bytes: total as Bytes };
}

const num = (text: string, what: string): number => {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw unreadable(`${what} "${text}" is not a number`);
  return n;
};

/** `dumpe2fs` output: "Block size:" and each group's "Free blocks: a-b, c, ..." (absolute block numbers). */
export function parseDumpe2fs(text: string): FreeSpace {
  const blockSize = /^Block size:\s+(\d+)$/m.exec(text);
  if (!blockSize) throw unreadable('dumpe2fs printed no block size');
  const size = num(blockSize[1]!, 'block size');
  const cluster = /^Cluster size:\s+(\d+)$/m.exec(text);
  if (cluster && num(cluster[1]!, 'cluster size') !== size) throw unreadable('the filesystem uses bigalloc clusters, which snapstore does not read');
  const groups = text.match(/^Group \d+:/gm)?.length ?? 0;
  const lines = [...text.matchAll(/^ {2}Free blocks: ?(.*)$/gm)];
  if (groups === 0 || lines.length !== groups) throw unreadable(`dumpe2fs printed ${groups} groups and ${lines.length} free-block lists`);
  const ranges: Array<[number, number]> = [];
  for (const [, list] of lines) {
    for (const item of list!.split(',').map((t) => t.trim()).filter(Boolean)) {
      const m = /^(\d+)(?:-(\d+))?$/.exec(item);
      if (!m) throw unreadable(`dumpe2fs free range "${item}"`);
      const a = num(m[1]!, 'block');
      const b = m[2] === undefined ? a : num(m[2], 'block');
      if (b < a) throw unreadable(`dumpe2fs free range "${item}" runs backwards`);
      ranges.push([a, b - a + 1]);
    }
  }
  return toFreeSpace(ranges, size);
}

/**
 * `xfs_db -r -c 'sb 0' -c 'p agblocks blocksize' -c 'freesp -d'` output:
 * the geometry, then one "agno agbno len" line per free extent. A device
 * block is agno * agblocks + agbno (XFS_AGB_TO_DADDR).
 */
export function parseXfsFreesp(text: string): FreeSpace {
  const agblocks = /^agblocks = (\d+)$/m.exec(text);
  const blocksize = /^blocksize = (\d+)$/m.exec(text);
  if (!agblocks || !blocksize) throw unreadable('xfs_db printed no geometry');
  const per = num(agblocks[1]!, 'agblocks');
  const ranges: Array<[number, number]> = [];
  let header = false;
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s*$/.exec(line);
    if (/^\s*agno\s+agbno\s+len\s*$/.test(line)) header = true;
    else if (header && m) {
      const agbno = num(m[2]!, 'agbno');
      const len = num(m[3]!, 'len');
      if (agbno + len > per) throw unreadable(`free extent ${line.trim()} runs past its allocation group`);
      ranges.push([num(m[1]!, 'agno') * per + agbno, len]);
    } else if (header && line.trim() && !/^\s*from\s+to\s+extents/.test(line)) break; // the histogram follows the extents
  }
  if (!header) throw unreadable('xfs_db printed no free-extent list');
  return toFreeSpace(ranges, num(blocksize[1]!, 'blocksize'));
}

/** The free space of the filesystem (`ext4` or `xfs`) on the block device `node`, read by its own tools. */
export async function readFreeSpace(node: string, fsType: string): Promise<FreeSpace> {
  const run = async (cmd: string, args: string[]) => {
    let r;
    try {
      r = await runProgram(cmd, args);
    } catch (err) {
      throw unreadable(`${cmd} could not be run (${(err as Error).message})`);
    }
    if (r.exitCode !== 0) throw unreadable(`${cmd} ${args.join(' ')} exited ${r.exitCode}: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`);
    return r.stdout;
  };
  if (fsType === 'ext4' || fsType === 'ext3' || fsType === 'ext2') return parseDumpe2fs(await run('dumpe2fs', [node]));
  if (fsType === 'xfs') return parseXfsFreesp(await run('xfs_db', ['-r', '-c', 'sb 0', '-c', 'p agblocks blocksize', '-c', 'freesp -d', node]));
  throw unreadable(`snapstore reads the free space of ext4 and xfs, not ${fsType}`);
}

/** Whether `[start, end)` lies wholly inside one free range. */
export function isFree(free: FreeSpace, start: number, end: number): boolean {
  let lo = 0;
  let hi = free.starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (free.ends[mid]! <= start) lo = mid + 1;
    else hi = mid;
  }
  return lo < free.starts.length && free.starts[lo]! <= start && end <= free.ends[lo]!;
}
