/**
 * struct fiemap and struct fiemap_extent, from include/uapi/linux/fiemap.h.
 * The request header is followed by fm_extent_count extents.
 *
 *   struct fiemap {                   struct fiemap_extent {
 *     __u64 fm_start;        0          __u64 fe_logical;      0
 *     __u64 fm_length;       8          __u64 fe_physical;     8
 *     __u32 fm_flags;       16          __u64 fe_length;      16
 *     __u32 fm_mapped_extents; 20       __u64 fe_reserved64[2]; 24
 *     __u32 fm_extent_count; 24         __u32 fe_flags;       40
 *     __u32 fm_reserved;    28          __u32 fe_reserved[3]; 44
 *   };                      (32)      };                      (56)
 */
import { IOWR } from '../linux/ioctl.js';

export const FIEMAP_HEADER = {
  size: 32,
  start: 0,
  length: 8,
  flags: 16,
  mappedExtents: 20,
  extentCount: 24,
} as const;

export const FIEMAP_EXTENT = {
  size: 56,
  logical: 0,
  physical: 8,
  length: 16,
  flags: 40,
} as const;

export const FS_IOC_FIEMAP = IOWR(0x66, 11, FIEMAP_HEADER.size);

export const FIEMAP_FLAG_SYNC = 0x00000001;
export const FIEMAP_MAX_OFFSET = 0xffffffffffffffffn;

/** fe_flags, with the name the kernel header gives each. */
export const EXTENT_FLAGS = {
  LAST: 0x00000001,
  UNKNOWN: 0x00000002,
  DELALLOC: 0x00000004,
  ENCODED: 0x00000008,
  DATA_ENCRYPTED: 0x00000080,
  NOT_ALIGNED: 0x00000100,
  DATA_INLINE: 0x00000200,
  DATA_TAIL: 0x00000400,
  UNWRITTEN: 0x00000800,
  MERGED: 0x00001000,
  SHARED: 0x00002000,
} as const;

export type ExtentFlagName = keyof typeof EXTENT_FLAGS;
