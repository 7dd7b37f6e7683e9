/**
 * The filesystem allow-list: only where FIEMAP's fe_physical is a byte offset
 * on the filesystem's own block device can the store be mapped raw.
 */
import { SnapstoreError } from '../errors.js';
import type { FsInfo } from '../linux/fs.js';
import { FS_MAGIC } from '../linux/fs.js';

const SUPPORTED = new Set<number>([FS_MAGIC.ext4, FS_MAGIC.xfs]);

const WHY: Partial<Record<keyof typeof FS_MAGIC, string>> = {
  btrfs: 'btrfs reports logical addresses in its own chunk space, not offsets on a device, and may move or share blocks',
  tmpfs: 'tmpfs lives in memory and has no block device',
  ramfs: 'ramfs lives in memory and has no block device',
  overlayfs: 'overlayfs passes files through to other filesystems; FIEMAP there does not name one device',
  nfs: 'a network filesystem has no local block device',
  cifs: 'a network filesystem has no local block device',
  smb2: 'a network filesystem has no local block device',
  fuse: 'a FUSE filesystem has no block addresses the kernel can vouch for',
  zfs: 'ZFS addresses are inside its pool, not on one device',
  f2fs: 'f2fs moves blocks during garbage collection even under a pin we can set',
  vfat: 'vfat has no immutable flag to keep the file in place',
  squashfs: 'squashfs is read-only and compressed',
  ecryptfs: 'ecryptfs stacks on another filesystem',
};

export class UnsupportedFilesystemError extends SnapstoreError {
  constructor(path: string, fs: FsInfo) {
    const why = WHY[fs.type as keyof typeof FS_MAGIC] ?? 'its FIEMAP addresses are not known to be device addresses';
    super('FS_UNSUPPORTED', `${path} is on ${fs.type}: ${why}; the store cannot be mapped raw there`, {
      hint: 'put the store on an ext4 or xfs filesystem on a block device',
    });
  }
}

export function checkFilesystem(path: string, fs: FsInfo): void {
  if (!SUPPORTED.has(fs.magic)) throw new UnsupportedFilesystemError(path, fs);
}
