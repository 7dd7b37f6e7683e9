/**
 * Trust in what the state directory holds. snapstore runs as root and acts
 * on what its manifests say (delete this file, map these blocks): a file or
 * folder another user could write or replace is an instruction from that
 * user. So before anything in a state directory is believed, every folder
 * from / down to it is checked (owned by root; not writable by group or
 * others, unless sticky as /tmp is, which keeps others from replacing root's
 * entries), and the state directory, each folder in it and each file read
 * from it must be owned by root and writable by root alone (files: 0600),
 * opened without following symlinks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SnapstoreError } from '../errors.js';
import { fromNodeError, isErrno } from '../linux/errors.js';

const S_ISVTX = 0o1000;

function untrusted(p: string, why: string, hint: string): SnapstoreError {
  return new SnapstoreError('STATE_UNTRUSTED', `${p} ${why}; snapstore acts as root on what the state directory holds, so it does not trust it`, { hint });
}

function writers(mode: number): string | undefined {
  const g = (mode & 0o020) !== 0;
  const o = (mode & 0o002) !== 0;
  return g && o ? 'its group and others' : g ? 'its group' : o ? 'others' : undefined;
}

/** A folder above the state directory: root's, and others may not replace its entries. */
function checkAncestor(p: string, st: fs.Stats): void {
  if (st.uid !== 0) {
    throw untrusted(p, `(a folder above the state directory) is owned by uid ${st.uid}, not root: its owner could replace what is below it`, 'put the state directory under folders only root can change (the default /var/lib/snapstore, or a metadata partition)');
  }
  const w = writers(st.mode);
  if (w && (st.mode & S_ISVTX) === 0) {
    throw untrusted(p, `(a folder above the state directory) is writable by ${w} (mode ${(st.mode & 0o7777).toString(8)}) without the sticky bit: they could replace the state directory`, `chmod go-w ${p}, or put the state directory elsewhere`);
  }
}

/** The state directory or a folder in it: a real directory, root's, writable by root alone. */
export function checkOwnDir(p: string, st: fs.Stats): void {
  if (st.isSymbolicLink()) throw untrusted(p, 'is a symbolic link', `replace it with a real directory owned by root (mode 0700)`);
  if (!st.isDirectory()) {
    throw new SnapstoreError('STATE_DIR_NOT_DIRECTORY', `${p} is not a directory`, { hint: 'give --state-dir a directory (it is made when first needed), or remove what is in the way' });
  }
  if (st.uid !== 0) throw untrusted(p, `is owned by uid ${st.uid}, not root`, `if you made it, check what is in it, then chown -R root: ${p}; chmod 700 ${p}`);
  const w = writers(st.mode);
  if (w) throw untrusted(p, `is writable by ${w} (mode ${(st.mode & 0o7777).toString(8)})`, `check what is in it, then chmod go-w ${p}`);
}

/**
 * A file of the state directory seen without opening it (lstat): a regular
 * file, root's, writable by root alone. (What snapstore reads from it must
 * also be mode 0600: readTrustedFile.)
 */
export function checkOwnFile(p: string, st: fs.Stats): void {
  if (st.isSymbolicLink()) throw untrusted(p, 'is a symbolic link', 'remove it: snapstore never makes one there');
  if (!st.isFile()) throw untrusted(p, 'is not a regular file', 'remove it: snapstore never makes anything else there');
  if (st.uid !== 0) throw untrusted(p, `is owned by uid ${st.uid}, not root`, `snapstore did not make it: check it, then remove it`);
  const w = writers(st.mode);
  if (w) throw untrusted(p, `is writable by ${w} (mode ${(st.mode & 0o7777).toString(8)})`, `check it, then chmod 600 ${p}`);
}

/**
 * Everything in the state directory `dir` (already checked itself), seen
 * without opening anything: folders as checkOwnDir, files as checkOwnFile,
 * nothing else (no symlink, device or fifo). One tampered entry makes the
 * whole state directory untrusted, for every command, before any reads on.
 */
export function checkTree(dir: string): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch (err) {
    throw fromNodeError(err, 'readdir', dir);
  }
  for (const e of entries) {
    const p = path.join(dir, e);
    const st = lstatOrNone(p);
    if (!st) continue;
    if (st.isDirectory()) {
      checkOwnDir(p, st);
      checkTree(p);
    } else {
      checkOwnFile(p, st);
    }
  }
}

/** Checks every folder from / down to `dir`'s parent (`dir` is absolute and resolved). */
export function checkAncestors(dir: string): void {
  const parts = dir.split(path.sep).filter(Boolean);
  let at: string = path.sep;
  for (let i = 0; i < parts.length; i++) {
    let st: fs.Stats;
    try {
      st = fs.statSync(at);
    } catch (err) {
      throw fromNodeError(err, 'stat', at);
    }
    checkAncestor(at, st);
    at = path.join(at, parts[i]!);
  }
}

/** lstat, or undefined where nothing is. */
export function lstatOrNone(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw fromNodeError(err, 'lstat', p);
  }
}

/**
 * Reads a file of the state directory: opened without following a symlink,
 * then checked on the open file (a regular file, root's, mode 0600), so
 * nothing can be swapped in between. Undefined when it does not exist.
 */
export function readTrustedFile(p: string): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    if (isErrno(err, 'ELOOP')) throw untrusted(p, 'is a symbolic link', `remove it: snapstore never writes one there`);
    throw fromNodeError(err, 'open', p);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw untrusted(p, 'is not a regular file', 'remove it: snapstore never writes one there');
    if (st.uid !== 0) throw untrusted(p, `is owned by uid ${st.uid}, not root`, `snapstore did not write it: check it, then remove it`);
    if ((st.mode & 0o7777) !== 0o600) throw untrusted(p, `has mode ${(st.mode & 0o7777).toString(8)}, not 600`, `snapstore writes 600: check it, then chmod 600 ${p}`);
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}
