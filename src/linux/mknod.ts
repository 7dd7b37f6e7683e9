/**
 * mknod(2) for block device nodes: Node has no binding, and device-mapper
 * nodes must be made by hand where udev does not run (early boot, the test VM).
 */
import type { DeviceNumber } from './device-number.js';
import { SyscallError } from './errors.js';
import { loadLibc } from './libc.js';

const S_IFBLK = 0o060000;

/** glibc's makedev(3) (`sysdeps/unix/sysv/linux/makedev.c`). */
export function toDevT(dev: DeviceNumber): bigint {
  const major = BigInt(dev.major);
  const minor = BigInt(dev.minor);
  return ((major & 0xfffff000n) << 32n) | ((major & 0xfffn) << 8n) | ((minor & 0xffffff00n) << 12n) | (minor & 0xffn);
}

/** Creates a block device node (permissions `mode`, reduced by the umask). */
export function mknodBlock(path: string, dev: DeviceNumber, mode = 0o600): void {
  const libc = loadLibc();
  if (libc.mknod(path, S_IFBLK | mode, toDevT(dev)) < 0) throw new SyscallError('mknod', libc.errno(), path);
}
