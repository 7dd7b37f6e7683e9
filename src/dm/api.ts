/**
 * What the library asks of device-mapper, as an interface: `DeviceMapper`
 * implements it over the dm ioctls, and tests give the lifecycle an
 * in-memory one (test/support/fake-dm.ts) so that its many paths run on a
 * host without device-mapper. Library functions receive it; none opens
 * /dev/mapper/control for itself.
 */
import type { DeviceNumber } from '../linux/device-number.js';
import type { TargetSpecOut, TargetVersion } from './abi.js';
import type { KernelFeatures, Table, Target } from './targets.js';

/** What DEV_STATUS (and most replies) say about a device. */
export interface DeviceInfo {
  readonly name: string;
  readonly uuid: string;
  readonly dev: DeviceNumber;
  readonly openCount: number;
  readonly eventNr: number;
  readonly targetCount: number;
  readonly suspended: boolean;
  readonly readOnly: boolean;
  readonly activeTable: boolean;
  readonly inactiveTable: boolean;
}

export interface ListedDevice {
  readonly name: string;
  readonly uuid: string | null;
  readonly dev: DeviceNumber;
}

export interface SuspendOptions {
  /** Freeze the filesystem on the device first (default true). */
  readonly lockfs?: boolean;
  /** Let queued I/O finish (default true); false keeps it queued (DM_NOFLUSH_FLAG). */
  readonly flush?: boolean;
}

export interface RemoveOptions {
  /** Retries while the device is busy but not mounted (udev or blkid probing it). */
  readonly retries?: number;
  readonly retryDelayMs?: number;
}

export interface DeviceMapperApi {
  /** DEV_CREATE: a device with no table, suspended. */
  create(name: string, uuid?: string, options?: { readOnly?: boolean }): DeviceInfo;
  /** TABLE_LOAD into the inactive slot; `resume` makes it live. */
  load(name: string, table: Table, options?: { readOnly?: boolean }): DeviceInfo;
  suspend(name: string, options?: SuspendOptions): DeviceInfo;
  /** Swaps in the inactive table if there is one, and lets I/O flow. */
  resume(name: string, options?: SuspendOptions): DeviceInfo;
  /** Drops the inactive table. */
  clear(name: string): DeviceInfo;
  remove(name: string, options?: RemoveOptions): Promise<void>;
  info(name: string): DeviceInfo;
  infoByUuid(uuid: string): DeviceInfo;
  /** DEV_STATUS, or undefined when there is no such device. */
  find(name: string): DeviceInfo | undefined;
  /** Each target's status text. */
  status(name: string, options?: { noflush?: boolean }): TargetSpecOut[];
  /** The live (or inactive) table, parsed. */
  table(name: string, options?: { inactive?: boolean }): Target[];
  /** The devices the live table uses. */
  deps(name: string): DeviceNumber[];
  /** Devices, optionally only those whose uuid starts with `uuidPrefix`. */
  list(uuidPrefix?: string): ListedDevice[];
  /** The dm name of a device number, or undefined when it is not a dm device. */
  nameOf(dev: DeviceNumber): string | undefined;
  targetVersions(): TargetVersion[];
  features(): KernelFeatures;
  /** Resolves when the device's event counter moves past `eventNr`. */
  waitEvent(name: string, eventNr: number): Promise<{ info: DeviceInfo; status: TargetSpecOut[] }>;
  /** Makes sure /dev/mapper/NAME opens `dev`; returns its path. */
  ensureNode(name: string, dev: DeviceNumber): Promise<string>;
  /** create + load + resume + node; removes the device again if a step fails. */
  createDevice(name: string, uuid: string, table: Table, options?: { readOnly?: boolean }): Promise<DeviceInfo>;
  close(): void;
}
