/**
 * What differs between two entries of the same path. Metadata comes from
 * lstat; contents are read only where metadata cannot tell: a regular file
 * whose size is the same and whose mtime is not. Same size and same mtime
 * counts as unchanged, the quick check rsync and git's index make: reading
 * every byte of both trees would cost a full read of the filesystem twice,
 * and a writer that keeps both has to have set the mtime back on purpose.
 * An mtime alone is no change (a `touch`); a directory's size and mtime
 * follow its entries, which are compared themselves. Extended attributes,
 * ACLs and hard links are not compared.
 */
import * as fs from 'node:fs';
import { fromNodeError, isErrno } from '../linux/errors.js';
import type { SafePoints } from '../util/interrupt.js';
import type { Entry } from './entry.js';

/** What changed: the type, a file's size, the permission bits, uid or gid, a symlink's target, a file's bytes, a device node's number. */
export type Change = 'type' | 'size' | 'mode' | 'owner' | 'target' | 'content' | 'device';

/** The changes lstat shows, and whether only the contents can tell the rest. */
export function metadataChanges(a: Entry, b: Entry): { changes: Change[]; readContents: boolean } {
  if (a.type !== b.type) return { changes: ['type'], readContents: false };
  const changes: Change[] = [];
  if (a.type === 'file' && a.size !== b.size) changes.push('size');
  if (a.mode !== b.mode) changes.push('mode');
  if (a.uid !== b.uid || a.gid !== b.gid) changes.push('owner');
  if (a.type === 'symlink' && !a.target!.equals(b.target!)) changes.push('target');
  if ((a.type === 'char-device' || a.type === 'block-device') && a.rdev !== b.rdev) changes.push('device');
  return { changes, readContents: a.type === 'file' && a.size === b.size && a.mtimeNs !== b.mtimeNs };
}

const BLOCK = 1 << 20;

/**
 * Whether two files hold the same bytes, read side by side until the first
 * difference. A file gone meanwhile (a live tree) counts as different.
 * Stops at a safe point when asked to (`what` names the file there).
 */
export async function sameContents(a: Buffer, b: Buffer, safe: SafePoints, what: string): Promise<boolean> {
  let fa: number | undefined;
  let fb: number | undefined;
  const bufA = Buffer.allocUnsafe(BLOCK);
  const bufB = Buffer.allocUnsafe(BLOCK);
  try {
    try {
      fa = fs.openSync(a, 'r');
      fb = fs.openSync(b, 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw fromNodeError(err, 'open', (fa === undefined ? a : b).toString());
    }
    for (;;) {
      await safe.check(`while comparing ${what}`);
      const na = readFull(fa, bufA, a);
      const nb = readFull(fb, bufB, b);
      if (na !== nb || !bufA.subarray(0, na).equals(bufB.subarray(0, nb))) return false;
      if (na < BLOCK) return true;
    }
  } finally {
    if (fa !== undefined) fs.closeSync(fa);
    if (fb !== undefined) fs.closeSync(fb);
  }
}

/** Reads until the buffer is full or the file ends. */
function readFull(fd: number, buf: Buffer, path: Buffer): number {
  let n = 0;
  while (n < buf.length) {
    let got: number;
    try {
      got = fs.readSync(fd, buf, n, buf.length - n, null);
    } catch (err) {
      throw fromNodeError(err, 'read', path.toString());
    }
    if (got === 0) break;
    n += got;
  }
  return n;
}
