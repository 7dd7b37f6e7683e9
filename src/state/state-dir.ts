/**
 * The state directory: where manifests and intent records live. It is made
 * only when a command is about to record something, checked before anything
 * in it is believed (trust.ts), and never taken from a relative path.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SnapstoreError } from '../errors.js';
import { fromNodeError, isErrno } from '../linux/errors.js';
import { fsyncDir } from '../linux/fs.js';
import { explainStateWrite } from './files.js';
import { checkAncestors, checkOwnDir, checkTree, lstatOrNone } from './trust.js';

export const DEFAULT_STATE_DIR = '/var/lib/snapstore';

/** A state directory that exists and passed the trust checks. */
export class StateDir {
  private constructor(readonly path: string) {}

  /** The checked state directory at `p`, or undefined where there is none. */
  static find(p: string): StateDir | undefined {
    const dir = resolveStateDir(p);
    const st = lstatOrNone(dir);
    if (!st) return undefined;
    checkOwnDir(dir, st);
    // Every folder and file in it, the lock included, before any command reads or takes anything there.
    checkTree(dir);
    return new StateDir(dir);
  }

  /** The checked state directory at `p`; a missing one is an error that says so. */
  static need(p: string): StateDir {
    const found = StateDir.find(p);
    if (found) return found;
    throw new SnapstoreError('STATE_DIR_MISSING', `there is no state directory at ${resolveStateDir(p)}: snapstore has recorded nothing there`, {
      hint: 'check --state-dir (the default is /var/lib/snapstore); it is made by the first command that records something',
    });
  }

  /** The state directory at `p`, made (mode 0700) if missing; `log` is told when it is. */
  static ensure(p: string, log: (line: string) => void = () => {}): StateDir {
    const found = StateDir.find(p);
    if (found) return found;
    const dir = resolveStateDir(p);
    try {
      fs.mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      throw explainMkdir(err, dir);
    }
    fsyncDir(path.dirname(dir));
    log(`created the state directory ${dir} (mode 0700)`);
    return new StateDir(dir);
  }

  /** A folder of the state directory (`stores`), checked, or undefined where there is none. */
  folder(name: string): string | undefined {
    const p = path.join(this.path, name);
    const st = lstatOrNone(p);
    if (!st) return undefined;
    checkOwnDir(p, st);
    return p;
  }

  /** The same, made (0700) if missing. */
  ensureFolder(name: string): string {
    const have = this.folder(name);
    if (have) return have;
    const p = path.join(this.path, name);
    try {
      fs.mkdirSync(p, { mode: 0o700 });
    } catch (err) {
      throw explainMkdir(err, p);
    }
    fsyncDir(this.path);
    return p;
  }
}

/** Refuses (NOT_ROOT) a caller that is not root; `why` says what needs root. */
export function requireRoot(why: string): void {
  if (typeof process.geteuid === 'function' && process.geteuid() !== 0) {
    throw new SnapstoreError('NOT_ROOT', `${why}; this process runs as uid ${process.geteuid()}`, { hint: 'run snapstore as root (sudo snapstore ...)' });
  }
}

/** Absolute, its parent resolved (symlinks above it followed, so the real folders are checked), trusted above. */
function resolveStateDir(p: string): string {
  if (!path.isAbsolute(p)) {
    throw new SnapstoreError('RELATIVE_PATH', `state directory "${p}" is a relative path: which one is meant would depend on where the command runs`, {
      hint: `give an absolute path, e.g. --state-dir ${path.resolve(p)}`,
      usage: true,
    });
  }
  requireRoot(`the state directory ${p} is root's: snapstore keeps its records there and drives device-mapper as root`);
  const parent = path.dirname(path.normalize(p));
  let real: string;
  try {
    real = fs.realpathSync(parent);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) {
      throw new SnapstoreError('STATE_DIR_MISSING', `the folder ${parent}, where the state directory ${p} would be, does not exist`, {
        hint: 'check --state-dir for a typo; a state directory is made only inside a folder that exists',
      });
    }
    if (isErrno(err, 'ENOTDIR')) {
      throw new SnapstoreError('STATE_DIR_NOT_DIRECTORY', `${parent}, above the state directory ${p}, is not a directory`, { hint: 'check --state-dir' });
    }
    throw fromNodeError(err, 'realpath', parent);
  }
  const dir = path.join(real, path.basename(p));
  checkAncestors(dir);
  return dir;
}

function explainMkdir(err: unknown, dir: string): unknown {
  if (isErrno(err, 'ENOSPC') || isErrno(err, 'EDQUOT')) return explainStateWrite(err, 'make', dir);
  if (isErrno(err, 'EROFS')) {
    return new SnapstoreError('STATE_DIR_READ_ONLY', `cannot make ${dir}: its filesystem is mounted read-only`, {
      hint: 'give --state-dir a writable filesystem that is mounted at boot (the root filesystem, or a small metadata partition)',
    });
  }
  if (isErrno(err, 'ENOTDIR')) return new SnapstoreError('STATE_DIR_NOT_DIRECTORY', `cannot make ${dir}: a part of its path is not a directory`, { hint: 'check --state-dir' });
  return fromNodeError(err, 'mkdir', dir);
}
