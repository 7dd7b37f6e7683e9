/**
 * Read-only mounts through mount(2) and umount2(2): a filesystem's image
 * looked at without changing it (`snapstore diff`). Read-only alone is not
 * enough: ext4 replays its journal and xfs its log on a read-only mount
 * unless told not to, and that would write to the device.
 */
import { SnapstoreError } from '../errors.js';
import { ERRNO } from './errno.js';
import { SyscallError } from './errors.js';
import { loadLibc } from './libc.js';

/** <sys/mount.h> */
const MS_RDONLY = 1;
const MS_NOSUID = 2;
const MS_NODEV = 4;
const MS_NOEXEC = 8;
const MS_REMOUNT = 32;
const MS_BIND = 4096;
const MNT_DETACH = 2;

/** Nothing on a view we only read may run, act as a device or raise privileges. */
const VIEW_FLAGS = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;

/**
 * The mount options that keep each filesystem from writing on a read-only
 * mount: ext4 `noload` (its journal is not replayed), xfs `norecovery` (nor
 * its log) and `nouuid` (a snapshot carries its origin's UUID, which xfs
 * refuses to mount twice).
 */
export const READ_ONLY_OPTIONS: Readonly<Record<string, string>> = { ext4: 'noload', xfs: 'norecovery,nouuid' };

function call(what: string, target: string, rc: number, detail?: string): void {
  if (rc < 0) throw new SyscallError(what, loadLibc().errno(), target, detail);
}

/**
 * Mounts the filesystem (`fsType`, one of READ_ONLY_OPTIONS) on `device` at
 * `target`, read-only, nosuid, nodev, noexec, with the options that keep it
 * from writing.
 */
export function mountReadOnly(device: string, target: string, fsType: string): void {
  const options = READ_ONLY_OPTIONS[fsType];
  if (options === undefined) {
    throw new SnapstoreError('READ_ONLY_UNSUPPORTED', `${device} holds ${fsType}: snapstore knows no way to mount it read-only without writing to it (it knows ${Object.keys(READ_ONLY_OPTIONS).join(' and ')})`, {
      hint: 'nothing was mounted; look at the device with the filesystem\'s own read-only tools',
    });
  }
  call(`mount(${device}, ${fsType}, ro,${options})`, target, loadLibc().mount(device, target, fsType, VIEW_FLAGS, options));
}

/**
 * Binds the mount at `source` to `target` (that mount alone, not those below
 * it: what is under a mount point shows), then makes the bind read-only,
 * nosuid, nodev, noexec. The mount at `source` keeps its own flags. A bind
 * that cannot be made read-only is unmounted again.
 */
export function bindReadOnly(source: string, target: string): void {
  const libc = loadLibc();
  call(`mount(--bind ${source})`, target, libc.mount(source, target, null, MS_BIND, null));
  const rc = libc.mount(null, target, null, MS_REMOUNT | MS_BIND | VIEW_FLAGS, null);
  if (rc < 0) {
    const errno = libc.errno();
    libc.umount2(target, 0);
    throw new SyscallError('mount(remount,bind,ro)', errno, target, 'the bind was unmounted again');
  }
}

/**
 * Unmounts `target`. Busy (a process has a file open or its cwd there), it is
 * detached instead (MNT_DETACH: gone from the tree now, released when the last
 * user lets go); returns whether it had to be.
 */
export function unmount(target: string): { detached: boolean } {
  const libc = loadLibc();
  if (libc.umount2(target, 0) === 0) return { detached: false };
  const errno = libc.errno();
  if (errno !== ERRNO.EBUSY) throw new SyscallError('umount', errno, target);
  call('umount(MNT_DETACH)', target, libc.umount2(target, MNT_DETACH));
  return { detached: true };
}
