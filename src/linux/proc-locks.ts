/**
 * Who holds a flock(2) on a file, read from /proc/locks (proc(5)). Trying the
 * lock to find out would make the holder's own next try fail while we held it.
 *
 * A line, as fs/locks.c (lock_get_status) writes it:
 *   `1: FLOCK  ADVISORY  WRITE 1234 08:01:131090 0 EOF`
 * id, kind, mandatory or advisory, READ/WRITE, the holder's pid, then the
 * file as major:minor (hex) and inode (decimal). A process waiting for the
 * lock gets a line of its own with `->` after the id: never a holder.
 */
import * as fs from 'node:fs';
import { fromDevT } from './device-number.js';
import { isErrno } from './errors.js';

const LINE = /^\d+:\s+FLOCK\s+\S+\s+WRITE\s+(\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/;

/** The pid holding an exclusive flock on `file` (undefined: none, or no such file). */
export function flockHolder(file: string, procLocks = (): string => fs.readFileSync('/proc/locks', 'utf8')): number | undefined {
  let st: fs.BigIntStats;
  try {
    st = fs.lstatSync(file, { bigint: true });
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
  const dev = fromDevT(st.dev);
  for (const line of procLocks().split('\n')) {
    const m = LINE.exec(line);
    if (m && parseInt(m[2]!, 16) === dev.major && parseInt(m[3]!, 16) === dev.minor && BigInt(m[4]!) === st.ino) return Number(m[1]);
  }
  return undefined;
}
