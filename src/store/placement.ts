/**
 * Where a store file may be created: a path that does not exist yet, in a
 * real directory that only root can change (anyone who can rename entries
 * there could swap the store for another file between our checks and use).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SnapstoreError } from '../errors.js';

export function checkPlacement(file: string): string {
  const abs = realParent(path.resolve(file));
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (st?.isSymbolicLink()) {
    throw new SnapstoreError('PATH_EXISTS', `${abs} is a symbolic link; a store is never created through one`, {
      hint: 'choose a path that does not exist',
    });
  }
  if (st) {
    throw new SnapstoreError('PATH_EXISTS', `${abs} already exists; a store is always a new file`, {
      hint: 'choose a path that does not exist, or `snapstore store delete` the store that uses it',
    });
  }
  const parent = path.dirname(abs);
  let pst: fs.Stats;
  try {
    pst = fs.lstatSync(parent);
  } catch {
    throw new SnapstoreError('BAD_PARENT', `the directory ${parent} does not exist`, { hint: 'create it (owned by root, mode 0700 or 0755) first' });
  }
  if (pst.isSymbolicLink() || !pst.isDirectory()) {
    throw new SnapstoreError('BAD_PARENT', `${parent} is not a real directory${pst.isSymbolicLink() ? ' (it is a symbolic link)' : ''}`, {
      hint: 'put the store in a real directory owned by root',
    });
  }
  if (pst.uid !== 0) {
    throw new SnapstoreError('BAD_PARENT', `${parent} is owned by uid ${pst.uid}, not root: its owner could replace the store`, {
      hint: `chown root ${parent}, or use a directory owned by root`,
    });
  }
  if ((pst.mode & 0o022) !== 0) {
    throw new SnapstoreError(
      'BAD_PARENT',
      `${parent} is writable by ${['', 'others', 'its group', 'its group and others'][((pst.mode & 0o020) >> 3) | ((pst.mode & 0o002) >> 1)]} (mode ${(pst.mode & 0o7777).toString(8)}): they could replace the store`,
      { hint: `make a directory for stores that only root can write (mkdir -m 700 ${path.join(parent, 'snapstore')}), or chmod go-w ${parent} if it is yours` },
    );
  }
  return abs;
}

/**
 * The path with the folders above the file resolved through symlinks (the
 * file itself is never followed): the kernel names a loop device's backing
 * file this way, and the manifest must name it the same.
 */
function realParent(abs: string): string {
  try {
    return path.join(fs.realpathSync(path.dirname(abs)), path.basename(abs));
  } catch {
    return abs; // a missing folder is refused below, naming the path as given
  }
}
