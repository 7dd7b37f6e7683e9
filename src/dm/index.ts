/**
 * The device-mapper layer: a client for the dm ioctls, the table and target
 * model, status parsing and /dev/mapper nodes. See README.md here.
 */
export { DeviceMapper, CONTROL_PATH, SNAPSTORE_UUID_PREFIX } from './client.js';
export type { DeviceInfo, ListedDevice, SuspendOptions, RemoveOptions } from './client.js';
export { DmError } from './errors.js';
export type { DmOperation } from './errors.js';
export { DmAbiError } from './abi.js';
export type { TargetSpec, TargetSpecOut, TargetVersion } from './abi.js';
export {
  ErrorTarget,
  FlakeyTarget,
  LinearTarget,
  OtherTarget,
  SnapshotMergeTarget,
  SnapshotOriginTarget,
  SnapshotTarget,
  TableError,
  ZeroTarget,
  formatTable,
  parseTableText,
  parseTarget,
  tableLength,
  tableSpecs,
} from './targets.js';
export type { CorruptBioByte, FlakeyOptions, KernelFeatures, SnapshotOptions, StoreKind, Table, Target } from './targets.js';
export { StatusError, mergeComplete, parseSnapshotStatus } from './status.js';
export type { SnapshotStatus } from './status.js';
export { nodePath, udevRunning } from './nodes.js';
