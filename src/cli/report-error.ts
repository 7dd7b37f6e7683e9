import { SnapstoreError } from '../errors.js';
import { SyscallError } from '../linux/errors.js';
import { UnitError } from '../units/units.js';

export interface ErrorReport {
  code: string;
  message: string;
  hint?: string;
  /** the command line was wrong: exit 2 */
  usage?: boolean;
}

const ERRNO_HINTS: Record<string, string> = {
  EPERM: 'run as root',
  EACCES: 'run as root',
  ENOSPC: 'free space on that filesystem or ask for a smaller size',
  ENOENT: 'check the path: it does not exist',
  ENOTDIR: 'check the path: a part of it is not a directory',
  EISDIR: 'give a file or a device, not a directory',
  EROFS: 'that filesystem is mounted read-only',
};

/** What the user sees of an error: its message, its stable code, the way out. */
export function describeError(err: unknown): ErrorReport {
  if (err instanceof SnapstoreError) {
    return { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}), ...(err.usage ? { usage: true } : {}) };
  }
  // Sizes and units given on the command line (parseSize, chunkSize).
  if (err instanceof UnitError) {
    return { code: 'BAD_VALUE', message: err.message, hint: 'sizes are whole bytes with an optional K, M, G, T suffix (binary): 512, 64K, 1.5G', usage: true };
  }
  if (err instanceof SyscallError) {
    const hint = ERRNO_HINTS[err.code];
    return { code: err.code, message: err.message, ...(hint ? { hint } : {}) };
  }
  if (err instanceof Error) return { code: 'INTERNAL', message: err.stack ?? err.message };
  return { code: 'INTERNAL', message: String(err) };
}
