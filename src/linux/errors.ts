import { SnapstoreError } from '../errors.js';
import { errnoCode, strerror } from './errno.js';

const ERRNO_HINTS: Partial<Record<string, string>> = {
  EPERM: 'run as root',
  EACCES: 'run as root',
  ENOSPC: 'free space on that filesystem',
  ENOENT: 'check the path: it does not exist',
  ENOTDIR: 'check the path: a part of it is not a directory',
  EISDIR: 'give a file or a device, not a directory',
  EROFS: 'that filesystem is mounted read-only',
};

/**
 * A failed system call: keeps the call, the thing it was about (a path, a
 * device name) and the errno, so callers can tell EBUSY from ENOENT. Its
 * code is the errno's name.
 */
export class SyscallError extends SnapstoreError {
  override name = 'SyscallError';
  readonly errno: number;
  readonly call: string;
  readonly path: string | undefined;

  constructor(call: string, errno: number, path?: string, detail?: string) {
    const code = errnoCode(errno);
    super(code, `${call}${path ? ` ${path}` : ''}: ${strerror(errno)} (${code})${detail ? `: ${detail}` : ''}`, { hint: ERRNO_HINTS[code] });
    this.errno = errno;
    this.call = call;
    this.path = path;
  }
}

export function isErrno(err: unknown, code: string): err is SyscallError | NodeJS.ErrnoException {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** Node's own fs errors carry code/syscall/path already; give them our shape. */
export function fromNodeError(err: unknown, call: string, path?: string): unknown {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.errno === 'number' && typeof e.code === 'string') {
    return new SyscallError(call, Math.abs(e.errno), path ?? e.path);
  }
  return err;
}
