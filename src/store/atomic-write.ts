import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromNodeError } from '../linux/errors.js';
import { fsync, fsyncDir, openOrThrow } from '../linux/fs.js';

/**
 * Replaces `file` with `data` so that a crash leaves either the old or the new
 * content: temp file, fsync, rename, fsync the directory.
 */
export function writeFileAtomic(file: string, data: string, mode = 0o600): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}`);
  const fd = openOrThrow(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 'open', mode);
  try {
    try {
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
