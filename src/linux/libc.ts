/**
 * The C library through koffi. This is the only module that imports koffi;
 * everything else reaches the kernel through the typed wrappers in this
 * folder, so tests can replace them. koffi is loaded on first use, not at
 * import, to keep the start-up of commands that need no syscall lean.
 */
import { createRequire } from 'node:module';

type KoffiFn = ((...args: unknown[]) => number) & {
  async: (...args: unknown[]) => void;
};

export interface Libc {
  ioctl: KoffiFn;
  fallocate: KoffiFn;
  fstatfs: KoffiFn;
  flock: KoffiFn;
  posix_fadvise: KoffiFn;
  mknod: KoffiFn;
  mount: KoffiFn;
  umount2: KoffiFn;
  posix_memalign: KoffiFn;
  free: (ptr: unknown) => void;
  errno: () => number;
  view: (ptr: unknown, length: number) => ArrayBuffer;
}

let libc: Libc | undefined;

export function loadLibc(): Libc {
  if (libc) return libc;
  const require = createRequire(import.meta.url);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const koffi = require('koffi');
  const lib = koffi.load('libc.so.6');
  // ioctl is variadic in C; on x86-64 and arm64 a fixed third pointer argument
  // is passed the same way, and only a fixed signature can be called async.
  libc = {
    ioctl: lib.func('int ioctl(int fd, unsigned long request, void *arg)'),
    fallocate: lib.func('int fallocate(int fd, int mode, int64_t offset, int64_t len)'),
    fstatfs: lib.func('int fstatfs(int fd, void *buf)'),
    flock: lib.func('int flock(int fd, int operation)'),
    posix_fadvise: lib.func('int posix_fadvise(int fd, int64_t offset, int64_t len, int advice)'),
    mknod: lib.func('int mknod(const char *path, uint32_t mode, uint64_t dev)'),
    mount: lib.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
    umount2: lib.func('int umount2(const char *target, int flags)'),
    posix_memalign: lib.func('int posix_memalign(_Out_ void **memptr, size_t alignment, size_t size)'),
    free: lib.func('void free(void *ptr)'),
    errno: () => koffi.errno() as number,
    view: (ptr, length) => koffi.view(ptr, length) as ArrayBuffer,
  };
  return libc;
}
