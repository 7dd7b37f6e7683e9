/**
 * Durable changes to the state directory: a file replaced atomically (a
 * crash leaves the old or the new content, never a mix) and an unlink that
 * survives a power cut.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromNodeError } from '../linux/errors.js';
import { fsync, fsyncDir, openOrThrow } from '../linux/fs.js';

/** Temp file (0600, never through a symlink), fsync, rename, fsync of the directory. */
export function writeFileAtomic(file: string, data: string): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}`);
  fs.rmSync(tmp, { force: true });
  const fd = openOrThrow(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 'open', 0o600);
  try {
    try {
      fs.fchmodSync(fd, 0o600);
      fs.writeFileSync(fd, data);
    } catch (err) {
      throw fromNodeError(err, 'write', tmp);
    }
    fsync(fd, tmp);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw fromNodeError(err, 'rename', file);
  }
  fsyncDir(dir);
}

/** Removes a file and makes the removal durable. */
export function unlinkDurable(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (err) {
    throw fromNodeError(err, 'unlink', file);
  }
  fsyncDir(path.dirname(file));
}
