/**
 * The one error family. Every outcome a library call reports is a
 * SnapstoreError: the message names the thing and the reason, `hint` says
 * the way out, `code` is stable for scripts (`--json` prints it). Codes are
 * listed once, below, with what each means; a failed system call carries its
 * errno's name (ENOSPC, EBUSY, ...) as its code instead.
 */
import type { constants } from 'node:os';

export const ERROR_CODES = {
  // command line and input
  USAGE: 'the command line was not understood',
  BAD_VALUE: 'a size, chunk size or other value given is not acceptable',
  BAD_NAME: 'a name is not allowed (letters, digits, ".", "_", "-")',
  BAD_SIZE: 'a store size is not a whole number of chunks, or too small',
  USAGE_STORE: 'give exactly one of --cow and --store',
  MERGE_NEEDS_OFFLINE: 'merge without --offline is not a command of its own',
  RELATIVE_PATH: 'a path that must be absolute was given relative',
  // the state directory and what is in it
  STATE_DIR_MISSING: 'there is no state directory at the path given',
  STATE_DIR_NOT_DIRECTORY: 'the state directory path is not a directory',
  STATE_DIR_READ_ONLY: 'the state directory sits on a read-only filesystem',
  STATE_UNTRUSTED: 'a state directory, folder above it or file in it could be changed by a user other than root',
  NOT_ROOT: 'the command needs root',
  LOCKED: 'another snapstore command holds the state directory lock',
  MANIFEST_INVALID: 'a manifest does not validate',
  RECORD_INVALID: 'an intent record does not validate',
  // stores
  NO_SUCH_STORE: 'no store of that name in the state directory',
  STORE_EXISTS: 'a store of that name exists already',
  CREATE_UNFINISHED: 'an earlier store create did not finish',
  PATH_EXISTS: 'the store path exists already',
  BAD_PARENT: 'the store directory is unsafe or missing',
  NOT_A_FILE: 'a path that must be a regular file is not one',
  FS_UNSUPPORTED: 'the filesystem cannot hold a store (not ext4 or xfs)',
  EXTENT_REFUSED: 'an extent of the file cannot be mapped raw',
  EMPTY_MAP: 'no whole chunk of the file is aligned on its device',
  MAP_CHANGED: 'the file moved while it was being mapped',
  MAP_PROOF_FAILED: 'the map did not prove: the device does not hold what the file does',
  MAP_OUTSIDE_DEVICE: 'the map lies outside the device it names',
  RAW_DEVICE_DENIED: 'the system refused a raw write to the filesystem device',
  STORE_STALE: 'the store no longer matches its manifest',
  STORE_MISMATCH: 'the file at the store path is not the store',
  STORE_IN_USE: 'a dm or loop device uses the store',
  FS_UNREADABLE: "the free space of a filesystem image could not be read (the extension hazard's test)",
  WATCH_NOT_STARTED: 'the watcher could not be started for a snapshot that was made',
  STORE_CANNOT_GROW: 'the store can grow no more (its filesystem, its --max, or the extension hazard)',
  STORE_FS_ABSENT: 'the filesystem the store lives on is not present',
  NO_STABLE_ID: 'a device has no identity that survives a reboot',
  DEVICE_NOT_FOUND: 'the device a manifest names is not present',
  BLKID_TIMEOUT: 'blkid did not answer in time: a device it reads waits (a suspended device)',
  DEVICE_AMBIGUOUS: 'several devices carry the identity a manifest names',
  DEVICE_BUSY: 'a device is held by a mounted filesystem',
  DEVICE_IN_USE: 'a device an offline tool must own is in use',
  STACK_UNSUPPORTED: 'a dm target in the stack cannot be mapped through',
  ALREADY_ATTACHED: 'the store is attached already',
  ATTACH_LEFTOVER: 'a loop device from an earlier attach is still there',
  LOOP_FAILED: 'losetup failed',
  // snapshots
  NO_SUCH_SNAPSHOT: 'no snapshot of that name in the state directory',
  SNAPSHOT_EXISTS: 'a snapshot of that name exists already',
  BAD_STATE: 'the snapshot is not in a state where that can be done',
  ORIGIN_UNSUPPORTED: 'the origin cannot carry a snapshot this way',
  ORIGIN_MOUNTED: 'the origin is mounted where it must not be',
  ENROLL_REFUSED: 'the device cannot be enrolled, or unenrolled, as asked',
  NOT_ENROLLED: 'no device is enrolled under that name',
  TABLE_UNTRUSTED: 'fstab or crypttab is not root\'s alone (or is a symbolic link): snapstore does not edit it',
  ORIGIN_BUSY: "an update's origin is mounted or held: nothing may use it",
  ORIGIN_CHANGED: 'the origin is not the device, or not in the state, the manifest records',
  STATE_ON_ORIGIN: 'the state directory is on the filesystem being snapshotted',
  SNAPSHOT_INVALID: 'the kernel invalidated the snapshot: the rollback is lost',
  STORE_HEADER_MISMATCH: "the store's header read raw does not match its manifest",
  STACK_MISMATCH: "the kernel's devices do not match what the manifest records",
  MERGE_FAILED: 'the kernel reports the merge failed',
  TARGET_MISSING: 'a device-mapper target the command needs is not available',
  DIFF_BUSY: "the snapshot's read-only view is in use: a diff runs, or one killed left it mounted",
  // offline tools
  NO_SUCH_FILE: 'an input does not exist',
  IS_A_DIRECTORY: 'an input is a directory',
  SAME_DEVICE: 'origin and store are the same blocks',
  EXPORT_EXISTS: 'the export target exists already',
  STORE_FILE_UNWRITTEN: 'a store file read through its filesystem would show zeros, not what the kernel wrote',
  EXPORT_OVERWRITES_INPUT: 'the export target is one of its inputs',
  INTERRUPTED: 'a signal stopped the command; it says what it left',
  // the boot integration (install-boot)
  BOOT_KIND_UNKNOWN: 'which boot integration to install was not named and could not be told',
  BOOT_SYSTEM_MISSING: 'the boot system asked for (systemd, initramfs-tools, dracut) is not installed there',
  BOOT_NOT_ON_PATH: 'snapstore or node is not where the boot looks for programs',
  BOOT_IMAGE_UNREADY: 'the installed snapstore cannot go into an initramfs (not built, or a dependency missing)',
  BOOT_STATE_DIR: 'the state directory is not on the root filesystem, so the boot cannot read it in time',
  BOOT_COMMAND_FAILED: 'the program that takes the boot files in (systemctl, update-initramfs, dracut) failed',
  // the exception store format
  COW_NEVER_WRITTEN: 'the store was never written by a snapshot',
  COW_BAD_MAGIC: 'not a persistent exception store',
  COW_BAD_VERSION: 'unknown store format version',
  COW_BAD_CHUNK_SIZE: 'the store header has an impossible chunk size',
  COW_TRUNCATED: 'the store is shorter than its table',
  COW_SHORT_READ: 'a structure lies past the end of what was read',
  COW_NEW_CHUNK_BEYOND_STORE: 'an exception points past the store',
  COW_NEW_CHUNK_ON_METADATA: 'an exception points at a metadata chunk',
  COW_OLD_CHUNK_BEYOND_ORIGIN: 'an exception lies beyond the origin',
  COW_OLD_CHUNK_IN_STORE: "an exception lies inside the store's own extents",
  COW_DUPLICATE_OLD_CHUNK: 'two exceptions for one origin chunk',
  COW_DUPLICATE_NEW_CHUNK: 'two exceptions share one data chunk',
  COW_INVALID: 'the snapshot was invalidated by the kernel',
  COW_BAD_MERGE_RECORD: 'a merge record of an unknown version',
  COW_MAP_GAP: 'a store map has a gap or overlap',
  COW_MAP_BEYOND_DEVICE: 'a store map lies beyond its device',
  COW_IO: 'an I/O error during a copy',
  COW_VERIFY_MISMATCH: 'the origin did not read back what was written',
  COW_EXPORT_TOO_SMALL: 'the export target is smaller than the origin',
  COW_STORE_FULL: 'no room left in the store',
  // device-mapper
  DM_ABI: 'the kernel returned a dm structure that does not validate',
  DM_TABLE: 'a dm table or target is malformed',
  DM_STATUS: 'a dm status line is not understood',
  DM_CLOSED: 'the device-mapper client was closed',
  // any layer
  IO_SHORT: 'a device ended before a read did',
  NO_BLOCK_DEVICE: 'no such block device',
  OVERFLOW: 'a number is beyond what can be handled exactly',
  NOT_A_DIRECTORY: 'a path that must be a directory is not one',
  READ_ONLY_UNSUPPORTED: 'no way is known to mount that filesystem read-only without writing to it (ext4 and xfs have one)',
  CLEANUP_INCOMPLETE: 'the work was done, but something it made for the while (a mount, a device) could not be taken away',
  BUG: "snapstore's own code broke one of its rules: report it",
  INTERNAL: 'an error no layer expected (a bug): reported with its stack',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
/** EBUSY, ENOSPC...: the code of an error that a failed system call caused. */
export type ErrnoName = keyof typeof constants.errno;

export interface SnapstoreErrorOptions {
  readonly hint?: string | undefined;
  readonly cause?: unknown;
  /** the command line was wrong (exit code 2), not the system */
  readonly usage?: boolean;
}

export class SnapstoreError extends Error {
  override name = 'SnapstoreError';
  /** An ErrorCode, or an errno name (EBUSY) for a failed system call. */
  readonly code: string;
  readonly hint: string | undefined;
  readonly usage: boolean;

  constructor(code: ErrorCode | ErrnoName, message: string, options: SnapstoreErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.usage = options.usage ?? false;
  }
}

/**
 * Adds a note to an error's message (what was undone, what is left) and
 * returns it. The error keeps its class, code and hint.
 */
export function withNote<E>(err: E, note: string): E {
  if (err instanceof Error) err.message = `${err.message}; ${note}`;
  return err;
}
