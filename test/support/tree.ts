import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Every entry under `dir` (itself included) with its owner, mode, link
 * target or content: what "nothing touched" compares, before and after.
 */
export function treeSnapshot(dir: string): string[] {
  return ['', ...fs.readdirSync(dir, { recursive: true }).map(String).sort()].map((rel) => {
    const p = path.join(dir, rel);
    const st = fs.lstatSync(p);
    const what = st.isSymbolicLink()
      ? `-> ${fs.readlinkSync(p)}`
      : st.isFile()
        ? createHash('sha256').update(fs.readFileSync(p)).digest('hex')
        : 'dir';
    return `${rel} ${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)} ${what}`;
  });
}
