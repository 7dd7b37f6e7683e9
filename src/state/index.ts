/**
 * Shared persistent state: the state directory (trust checked), its lock,
 * atomic writes and durable unlinks, intent records, and every name we give
 * the kernel and the disk. See README.md here.
 */
export { DEFAULT_STATE_DIR, StateDir } from './state-dir.js';
export type { LockOptions } from './lock.js';
export { StateLock, stateLockHolder, withStateLock } from './lock.js';
export { writeFileAtomic, unlinkDurable } from './files.js';
export type { Intent } from './intent.js';
export { writeIntent, readIntent, removeIntent, intentExists } from './intent.js';
export type { DeviceRole } from './names.js';
export { checkName, dmName, dmUuid, parseDmUuid, isDmNameOf, statePaths, UUID_PREFIX, DEVICE_ROLES } from './names.js';
export { readTrustedFile } from './trust.js';
export type { RecordFolder } from './records.js';
export { recordFolder } from './records.js';
