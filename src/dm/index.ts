/**
 * The device-mapper layer: a client for the dm ioctls, the table and target
 * model, status parsing and /dev/mapper nodes. See README.md here.
 */
export { DeviceMapper, CONTROL_PATH } from './client.js';
export type { DeviceMapperApi, DeviceInfo, ListedDevice, SuspendOptions, RemoveOptions } from './api.js';
export { createDevice } from './create-device.js';
export { deviceMapperIfPresent } from './presence.js';
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
  parseTableText,
  parseTarget,
  tableLength,
  tableSpecs,
} from './targets.js';
export type { CorruptBioByte, FlakeyOptions, KernelFeatures, SnapshotOptions, StoreKind, Table, Target } from './targets.js';
export { StatusError, mergeComplete, parseSnapshotStatus } from './status.js';
export type { SnapshotStatus } from './status.js';
export { nodePath, udevRunning } from './nodes.js';
export { formatTable, linearTableText } from './table-text.js';
export type { LinearColumns } from './table-text.js';
export type { DeviceMapping } from './stack.js';
export { passthrough, translate, toBottom, sharedBlocks, coalesceMappings } from './stack.js';
