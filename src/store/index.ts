/**
 * Store files: create (allocate, map, prove, pin, record), verify, delete,
 * list, attach as a block device, and the offline tools over them. See
 * README.md here.
 */
export type { StoreManifest } from './manifest.js';
export { readManifest, findManifest, decodeManifest, mapChecksum, MANIFEST_VERSION } from './manifest.js';
export type { CreateStoreOptions } from './create.js';
export { createStore } from './create.js';
export type { ExtendStoreOptions, ExtendStoreResult } from './extend.js';
export { extendStoreLocked, settleExtension } from './extend.js';
export type { FreeSpace } from './free-space.js';
export { readFreeSpace } from './free-space.js';
export type { VerifyOptions, VerifyResult } from './verify.js';
export { verifyStore } from './verify.js';
export type { DeleteOptions, DeleteResult } from './delete.js';
export { deleteStore } from './delete.js';
export type { DeviceIdentity } from './identity.js';
export { resolveDevice } from './identity.js';
export type { RawStore } from './raw-device.js';
export { openRawStore, openManifestStore } from './raw-device.js';
export { storeUsers } from './in-use.js';
export type { AttachOptions, AttachResult, DetachOptions, DetachResult } from './attach.js';
export { attachStore, detachStore } from './attach.js';
export type { ListOptions, StoreListing, StoreState } from './list.js';
export { listStores } from './list.js';
export type { StoreSource, SourceOptions } from './sources.js';
export { openOrigin, openStoreSource } from './sources.js';
export type { OfflineMergeOptions, ExportOptions, ExportResult, InspectOptions, InspectResult } from './offline.js';
export { mergeStoreOffline, exportStoreView, inspectSource } from './offline.js';
