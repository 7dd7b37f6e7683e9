/**
 * The exit codes, and which one each error code gets. A script that calls
 * snapstore can tell "try again later" (busy) from "this will never work
 * here" (refused) from "the way back is gone" (rollback lost) without
 * parsing messages. main.ts is the only caller.
 */
import { DmError } from '../dm/errors.js';
import { type ErrnoName, type ErrorCode, SnapstoreError } from '../errors.js';

/** Every outcome a run can have, with its exit code. */
export const EXIT = {
  done: 0,
  failed: 1,
  usage: 2,
  refused: 3,
  notFound: 4,
  busy: 5,
  kernel: 6,
  rollbackLost: 7,
} as const;

export type ExitClass = keyof typeof EXIT;

/** What each exit code tells a script, for --help and the README. */
export const EXIT_MEANING: Record<ExitClass, string> = {
  done: 'done',
  failed: 'failed: the message says why, and "way out:" what to do',
  usage: 'the command line was not taken (unknown option, bad size): nothing done',
  refused: 'refused as unsafe, or not possible now: nothing was changed',
  notFound: 'not found: no snapshot, store, device or file of that name',
  busy: 'busy: the lock is held, or a device or store is in use; try later',
  kernel: 'device-mapper failed (an ioctl, a target, a merge) or is missing',
  rollbackLost: 'the rollback is lost: the kernel invalidated the snapshot',
};

/**
 * The class of every code in ERROR_CODES: a Record, so a code added there
 * without a class here does not compile. Codes that only a bug or a broken
 * file can cause are `failed`. An error marked `usage` is a usage error
 * whatever its code: a code used both for a command line and for what the
 * system holds (BAD_SIZE, BOOT_KIND_UNKNOWN) is classed here by the second.
 */
export const CODE_CLASS: Record<ErrorCode, ExitClass> = {
  USAGE: 'usage',
  BAD_VALUE: 'usage',
  BAD_NAME: 'usage',
  // also a store whose file has too few aligned chunks (the filesystem's doing)
  BAD_SIZE: 'refused',
  USAGE_STORE: 'usage',
  MERGE_NEEDS_OFFLINE: 'usage',
  RELATIVE_PATH: 'usage',

  STATE_DIR_MISSING: 'notFound',
  STATE_DIR_NOT_DIRECTORY: 'refused',
  STATE_DIR_READ_ONLY: 'refused',
  STATE_UNTRUSTED: 'refused',
  NOT_ROOT: 'refused',
  LOCKED: 'busy',
  MANIFEST_INVALID: 'failed',
  RECORD_INVALID: 'failed',

  NO_SUCH_STORE: 'notFound',
  STORE_EXISTS: 'refused',
  CREATE_UNFINISHED: 'refused',
  PATH_EXISTS: 'refused',
  BAD_PARENT: 'refused',
  NOT_A_FILE: 'refused',
  NOT_A_DIRECTORY: 'refused',
  READ_ONLY_UNSUPPORTED: 'refused',
  FS_UNSUPPORTED: 'refused',
  EXTENT_REFUSED: 'refused',
  EMPTY_MAP: 'refused',
  MAP_CHANGED: 'refused',
  MAP_PROOF_FAILED: 'refused',
  MAP_OUTSIDE_DEVICE: 'refused',
  RAW_DEVICE_DENIED: 'refused',
  STORE_STALE: 'refused',
  STORE_MISMATCH: 'refused',
  STORE_IN_USE: 'busy',
  DIFF_BUSY: 'busy',
  FS_UNREADABLE: 'failed',
  WATCH_NOT_STARTED: 'failed',
  STORE_CANNOT_GROW: 'refused',
  STORE_FS_ABSENT: 'notFound',
  NO_STABLE_ID: 'refused',
  DEVICE_NOT_FOUND: 'notFound',
  BLKID_TIMEOUT: 'busy',
  DEVICE_AMBIGUOUS: 'refused',
  DEVICE_BUSY: 'busy',
  DEVICE_IN_USE: 'busy',
  STACK_UNSUPPORTED: 'refused',
  ALREADY_ATTACHED: 'busy',
  ATTACH_LEFTOVER: 'busy',
  LOOP_FAILED: 'failed',

  NO_SUCH_SNAPSHOT: 'notFound',
  SNAPSHOT_EXISTS: 'refused',
  BAD_STATE: 'refused',
  ORIGIN_UNSUPPORTED: 'refused',
  ORIGIN_MOUNTED: 'refused',
  ENROLL_REFUSED: 'refused',
  NOT_ENROLLED: 'notFound',
  TABLE_UNTRUSTED: 'refused',
  ORIGIN_BUSY: 'busy',
  ORIGIN_CHANGED: 'refused',
  STATE_ON_ORIGIN: 'refused',
  SNAPSHOT_INVALID: 'rollbackLost',
  STORE_HEADER_MISMATCH: 'refused',
  STACK_MISMATCH: 'refused',
  MERGE_FAILED: 'kernel',
  TARGET_MISSING: 'kernel',

  NO_SUCH_FILE: 'notFound',
  IS_A_DIRECTORY: 'usage',
  SAME_DEVICE: 'refused',
  EXPORT_EXISTS: 'refused',
  STORE_FILE_UNWRITTEN: 'refused',
  EXPORT_OVERWRITES_INPUT: 'refused',
  // A signal's exit code (128+N) is decided by main.ts; this is its fallback.
  INTERRUPTED: 'failed',

  // also: no boot system found to install into
  BOOT_KIND_UNKNOWN: 'notFound',
  BOOT_SYSTEM_MISSING: 'notFound',
  BOOT_NOT_ON_PATH: 'notFound',
  BOOT_IMAGE_UNREADY: 'refused',
  BOOT_STATE_DIR: 'refused',
  BOOT_COMMAND_FAILED: 'failed',

  // A store's format: a broken or foreign store, not the system's state.
  COW_NEVER_WRITTEN: 'failed',
  COW_BAD_MAGIC: 'failed',
  COW_BAD_VERSION: 'failed',
  COW_BAD_CHUNK_SIZE: 'failed',
  COW_TRUNCATED: 'failed',
  COW_SHORT_READ: 'failed',
  COW_NEW_CHUNK_BEYOND_STORE: 'failed',
  COW_NEW_CHUNK_ON_METADATA: 'failed',
  COW_OLD_CHUNK_BEYOND_ORIGIN: 'failed',
  COW_OLD_CHUNK_IN_STORE: 'failed',
  COW_DUPLICATE_OLD_CHUNK: 'failed',
  COW_DUPLICATE_NEW_CHUNK: 'failed',
  COW_INVALID: 'rollbackLost',
  COW_BAD_MERGE_RECORD: 'failed',
  COW_MAP_GAP: 'failed',
  COW_MAP_BEYOND_DEVICE: 'failed',
  COW_IO: 'failed',
  COW_VERIFY_MISMATCH: 'failed',
  COW_EXPORT_TOO_SMALL: 'refused',
  COW_STORE_FULL: 'failed',

  DM_ABI: 'kernel',
  DM_TABLE: 'kernel',
  DM_STATUS: 'kernel',
  DM_CLOSED: 'failed',

  IO_SHORT: 'failed',
  NO_BLOCK_DEVICE: 'notFound',
  OVERFLOW: 'failed',
  BUG: 'failed',
  // the work was done: what is left is named, for the user to take away
  CLEANUP_INCOMPLETE: 'failed',
  INTERNAL: 'failed',
};

/** A failed system call's errno: the few that say something a script can act on. */
const ERRNO_CLASS: Partial<Record<ErrnoName, ExitClass>> = {
  EBUSY: 'busy',
  ENOENT: 'notFound',
  ENODEV: 'notFound',
  ENXIO: 'notFound',
};

const isErrorCode = (code: string): code is ErrorCode => Object.hasOwn(CODE_CLASS, code);

/** The class of an error a command threw (anything not ours is a bug: failed). */
export function exitClassOf(err: unknown): ExitClass {
  if (!(err instanceof SnapstoreError)) return 'failed';
  if (err.usage) return 'usage';
  // A refused ioctl is the kernel's answer, whatever its errno, except a device in use.
  if (err instanceof DmError) return err.code === 'EBUSY' ? 'busy' : 'kernel';
  if (isErrorCode(err.code)) return CODE_CLASS[err.code];
  return ERRNO_CLASS[err.code as ErrnoName] ?? 'failed';
}
