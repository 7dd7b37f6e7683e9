/**
 * The snapshot lifecycle: create a checkpoint (or, in update mode, a snapshot
 * to write the update into) before an update, activate it after the reboot,
 * commit or roll back (the kernel's merge, or ours offline); extend the
 * store online; discard, recover, status; enroll a plain partition. See README.md here.
 */
export type { Platform } from './platform.js';
export { linuxPlatform } from './platform.js';
export type { LifecycleOptions } from './context.js';
export type { SnapshotManifest, SnapshotMode, OriginRecord, BootAttempts } from './manifest.js';
export type { BootCount } from './boot-attempts.js';
export { readSnapshot, findSnapshot, decodeSnapshotManifest, SNAPSHOT_MANIFEST_VERSION } from './manifest.js';
export type { SnapshotState } from './states.js';
export { SNAPSHOT_STATES, isFinished } from './states.js';
export type { CreateSnapshotOptions, CreateSnapshotResult, CreatePlan } from './create.js';
export { createSnapshot } from './create.js';
export type { ActivateOptions, ActivateResult, ActivateAction } from './activate.js';
export { activateSnapshots } from './activate.js';
export type { DropOptions, DropResult } from './commit.js';
export { commitSnapshot, discardSnapshot } from './commit.js';
export type { RollbackOptions, RollbackResult, RollbackOutcome } from './rollback.js';
export { rollbackSnapshot } from './rollback.js';
export type { ExtendOptions, ExtendResult, KeepFree } from './extend.js';
export { extendSnapshot, DEFAULT_KEEP_FREE } from './extend.js';
export type { RecoverResult } from './recover.js';
export { recoverSnapshots } from './recover.js';
export type { SnapshotReport, StatusOptions, Health } from './status.js';
export { snapshotStatus, STATUS_SCHEMA_VERSION } from './status.js';
export type { MergeProgress } from './merge.js';
export type { EnrollOptions, EnrollResult, EnrolledRecord, UnenrollResult, MapAction } from './enroll.js';
export { enrollDevice, unenrollDevice, findEnrolled, enrolledNames } from './enroll.js';
export type { CommitUpdateOptions } from './update.js';
export type { DiffOptions, SnapshotDiff } from './diff.js';
export { diffSnapshot } from './diff.js';
export { oldViewRefusal } from './old-view.js';
export { setFaultHandler, SimulatedCrash } from './faults.js';
