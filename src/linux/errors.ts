import { errnoCode, strerror } from './errno.js';

/**
 * A failed system call: keeps the call, the thing it was about (a path, a
 * device name) and the errno, so callers can tell EBUSY from ENOENT.
 */
export class SyscallError extends Error {
  override name = 'SyscallError';
  readonly errno: number;
  readonly code: string;
  readonly call: string;
  readonly path: string | undefined;

  constructor(call: string, errno: number, path?: string, detail?: string) {
    const code = errnoCode(errno);
    super(`${call}${path ? ` ${path}` : ''}: ${strerror(errno)} (${code})${detail ? `: ${detail}` : ''}`);
    this.errno = errno;
    this.code = code;
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
