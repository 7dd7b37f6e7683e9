/**
 * mknod(2) for block device nodes: Node has no binding, and device-mapper
 * nodes must be made by hand where udev does not run (early boot, the test
 * VM). Loads its one libc function lazily, like libc.ts (which this file
 * does not edit: it is owned elsewhere; fold it in there when convenient).
 */
import { createRequire } from 'node:module';
import type { DeviceNumber } from './device-number.js';
import { SyscallError } from './errors.js';

const S_IFBLK = 0o060000;

interface Mknod {
  mknod: (path: string, mode: number, dev: bigint) => number;
  errno: () => number;
}
let lib: Mknod | undefined;

function load(): Mknod {
  if (lib) return lib;
  const require = createRequire(import.meta.url);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const koffi = require('koffi');
  const libc = koffi.load('libc.so.6');
  lib = {
    mknod: libc.func('int mknod(const char *path, uint32_t mode, uint64_t dev)'),
    errno: () => koffi.errno() as number,
  };
  return lib;
}

/** glibc's makedev(3) (`sysdeps/unix/sysv/linux/makedev.c`). */
export function toDevT(dev: DeviceNumber): bigint {
  const major = BigInt(dev.major);
  const minor = BigInt(dev.minor);
  return ((major & 0xfffff000n) << 32n) | ((major & 0xfffn) << 8n) | ((minor & 0xffffff00n) << 12n) | (minor & 0xffn);
}

/** Creates a block device node (permissions `mode`, reduced by the umask). */
export function mknodBlock(path: string, dev: DeviceNumber, mode = 0o600): void {
  const l = load();
  if (l.mknod(path, S_IFBLK | mode, toDevT(dev)) < 0) throw new SyscallError('mknod', l.errno(), path);
}
