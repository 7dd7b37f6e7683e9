import { SyscallError } from './errors.js';
import { loadLibc } from './libc.js';

/**
 * ioctl(2) on a buffer the kernel reads and writes in place. `what` names the
 * object (a path or a device name) for the error message.
 */
export function ioctl(fd: number, request: number, arg: Buffer, call: string, what?: string): number {
  const libc = loadLibc();
  const rc = libc.ioctl(fd, request, arg);
  if (rc < 0) throw new SyscallError(call, libc.errno(), what);
  return rc;
}

/**
 * The same call on a worker thread, for ioctls that block (DM_DEV_WAIT):
 * the event loop keeps running meanwhile.
 */
export function ioctlAsync(fd: number, request: number, arg: Buffer, call: string, what?: string): Promise<number> {
  const libc = loadLibc();
  return new Promise((resolve, reject) => {
    libc.ioctl.async(fd, request, arg, (err: unknown, rc: number) => {
      if (err) reject(err);
      else if (rc < 0) reject(new SyscallError(call, libc.errno(), what));
      else resolve(rc);
    });
  });
}

/** _IOC encoding from include/uapi/asm-generic/ioctl.h (x86-64, arm64). */
const IOC_NONE = 0;
const IOC_WRITE = 1;
const IOC_READ = 2;
function ioc(dir: number, type: number, nr: number, size: number): number {
  // (dir << 30) overflows 32-bit signed arithmetic: compute in floating point.
  return dir * 2 ** 30 + (size << 16) + (type << 8) + nr;
}
export const IO = (type: number, nr: number): number => ioc(IOC_NONE, type, nr, 0);
export const IOR = (type: number, nr: number, size: number): number => ioc(IOC_READ, type, nr, size);
export const IOW = (type: number, nr: number, size: number): number => ioc(IOC_WRITE, type, nr, size);
export const IOWR = (type: number, nr: number, size: number): number => ioc(IOC_READ | IOC_WRITE, type, nr, size);
