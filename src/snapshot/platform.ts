/**
 * What the lifecycle asks of the system besides device-mapper, behind one
 * interface (as libsnapshot's IDeviceInfo): which device a path is, where a
 * device is mounted, what a filesystem sits on, the store's header read raw,
 * the targets the kernel offers, and the stores (files today; RAM or other
 * stores can come behind the same two calls). `linuxPlatform` is the real one; host
 * tests give the state machine a fake (test/support/fake-platform.ts) over
 * the fake device-mapper, and the VM tests run the same code on the kernel.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FileIo } from '../blockio/file-io.js';
import { MappedIo } from '../blockio/mapped-io.js';
import type { DeviceMapperApi } from '../dm/api.js';
import { SnapstoreError } from '../errors.js';
import { blockDeviceInfo, deviceNumberOfName } from '../linux/blockdev.js';
import { bootId } from '../linux/boot-id.js';
import type { DeviceNumber } from '../linux/device-number.js';
import { fromDevT } from '../linux/device-number.js';
import { fromNodeError } from '../linux/errors.js';
import { filesystemDevice, mountsOf, readMountInfo } from '../linux/mountinfo.js';
import { runProgram } from '../linux/run.js';
import type { StateLock } from '../state/lock.js';
import type { CreateStoreOptions } from '../store/create.js';
import { createStoreLocked } from '../store/create.js';
import { deleteStoreLocked } from '../store/delete.js';
import { mergeStoreOffline } from '../store/offline.js';
import { parseBlkidExport } from '../store/identity.js';
import type { MergeProgress, MergeSummary } from '../cow/merge.js';
import { readTable } from '../cow/exception-table.js';
import type { ExtendStoreOptions, ExtendStoreResult } from '../store/extend.js';
import { extendStoreLocked, settleExtension } from '../store/extend.js';
import type { FreeSpace } from '../store/free-space.js';
import { readFreeSpace } from '../store/free-space.js';
import { devicesWithTag } from '../linux/blkid.js';
import { statfsOf, type FsInfo } from '../linux/fs.js';
import type { StoreManifest } from '../store/manifest.js';
import { bytes, sectorsToBytes, type Bytes, type ChunkSize, type Sectors } from '../units/units.js';
import { findAgents, type AgentsFound } from './update-agents.js';

export interface Platform {
  readonly dm: DeviceMapperApi;
  /** The device number of a block device node; refuses what is not one. */
  blockDevice(path: string): DeviceNumber;
  /** Where a device is mounted, or undefined. */
  mountedAt(dev: DeviceNumber): string | undefined;
  /** the device of the filesystem mounted exactly at `mountPoint` */
  mountedDevice(mountPoint: string): DeviceNumber | undefined;
  /** The running boot's id, new at every boot (a boot budget counts each boot once). */
  bootId(): string;
  /** The device the filesystem holding `path` is on. */
  filesystemDevice(path: string): DeviceNumber;
  /** The filesystem UUID on a device (undefined when there is none, or it cannot be read). */
  filesystemUuid(dev: DeviceNumber): Promise<string | undefined>;
  /** A block device's kernel name, size, holders (devices over it: dm ones by their dm name) and partition UUID. */
  describeDevice(dev: DeviceNumber): Promise<PlainDevice>;
  /** The devices over a block device (sysfs holders; dm ones by their dm name): no probe of its contents. */
  holdersOf(dev: DeviceNumber): string[];
  /** The device with this partition UUID (else this kernel name) now, if there is one. */
  findDevice(by: { readonly partUuid?: string; readonly kernelName?: string }): Promise<DeviceNumber | undefined>;
  /** The first `length` bytes of the store, read raw through its map on `dev` (never through the file). */
  readStore(dev: DeviceNumber, m: StoreManifest, length: number, shift?: Sectors): Buffer;
  /** Writes zeros over the first `length` bytes of a device (a new store's header, through its cow device). */
  zeroStart(dev: DeviceNumber, length: Bytes): void;
  /** Makes sure these dm targets are loaded (modules load now, never while a device is suspended). */
  loadTargets(types: readonly string[]): Promise<void>;
  /** Makes a store (allocated, proved, pinned, recorded): the store layer's create, under our lock. */
  createStore(lock: StateLock, options: CreateStoreOptions): Promise<StoreManifest>;
  /** Deletes a store and its record; STORE_FS_ABSENT when its filesystem is not here. */
  deleteStore(lock: StateLock, name: string): Promise<void>;
  /** Grows a store (allocated, proved, pinned, admitted, recorded): the store layer's extend, under our lock. */
  extendStore(lock: StateLock, options: ExtendStoreOptions): Promise<ExtendStoreResult>;
  /** Undoes what a crashed extension of store `name` left (a file longer than its manifest); says what it did. */
  settleExtension(lock: StateLock, name: string): string | undefined;
  /** statfs of the filesystem holding `path`: its size, free and available space. */
  filesystem(path: string): FsInfo;
  /** The free space of the filesystem (of type `fsType`) on `dev`, read from its own metadata. */
  freeSpace(dev: DeviceNumber, fsType: string): Promise<FreeSpace>;
  /** The origin chunks that have an exception in the store on the COW device `dev` (read raw). */
  exceptionChunks(dev: DeviceNumber, chunk: ChunkSize): Set<number>;
  /** Our offline merge of store `store` into the device `origin`, which nothing else may use (restartable). */
  mergeOffline(lock: StateLock, options: OfflineMergeRequest): Promise<MergeSummary>;
  /** The update agents installed and where each keeps its own record of an update. */
  updateAgents(): AgentsFound;
}

export interface OfflineMergeRequest {
  readonly origin: DeviceNumber;
  readonly store: string;
  readonly onProgress?: (p: MergeProgress) => void;
  readonly signal?: AbortSignal;
  /** data per batch (one origin flush and one table commit each) */
  readonly batchBytes?: Bytes;
}

export interface PlainDevice {
  readonly kernelName: string;
  readonly sectors: number;
  readonly holders: readonly string[];
  readonly partUuid: string | undefined;
  /** what blkid finds on it: ext4, xfs, crypto_LUKS... */
  readonly fsType: string | undefined;
  /** the names fstab and crypttab may know it by (UUID=, LABEL=, PARTLABEL=) */
  readonly fsUuid: string | undefined;
  readonly fsLabel: string | undefined;
  readonly partLabel: string | undefined;
}

/** The dm targets a snapshot's life needs (create loads them all before its first suspend). */
export const LIFECYCLE_TARGETS = ['linear', 'snapshot', 'snapshot-origin', 'snapshot-merge'] as const;

/** The kernel's modules for the targets the lifecycle uses. */
const MODULES: Record<string, string> = { snapshot: 'dm-snapshot', 'snapshot-origin': 'dm-snapshot', 'snapshot-merge': 'dm-snapshot', linear: 'dm-mod' };

/** The kernel module that brings a dm target. */
export const targetModule = (target: string): string => MODULES[target] ?? `dm-${target}`;

export function linuxPlatform(dm: DeviceMapperApi): Platform {
  return {
    dm,
    blockDevice(path) {
      let st: fs.Stats;
      try {
        st = fs.statSync(path);
      } catch (err) {
        throw fromNodeError(err, 'stat', path);
      }
      if (!st.isBlockDevice()) {
        throw new SnapstoreError('ORIGIN_UNSUPPORTED', `${path} is not a block device`, { hint: 'give the device the filesystem is mounted from, e.g. /dev/mapper/data' });
      }
      return fromDevT(st.rdev);
    },
    mountedAt(dev) {
      return mountsOf(dev)[0]?.mountPoint;
    },
    mountedDevice(mountPoint) {
      // The last mount there is the one seen (mounts stack).
      return readMountInfo().filter((m) => m.mountPoint === path.resolve(mountPoint)).at(-1)?.dev;
    },
    bootId,
    filesystemDevice,
    async filesystemUuid(dev) {
      const r = await runProgram('blkid', ['-p', '-s', 'UUID', '-o', 'value', blockDeviceInfo(dev).node]);
      return r.exitCode === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
    },
    async describeDevice(dev) {
      const info = blockDeviceInfo(dev);
      const r = await runProgram('blkid', ['-p', '-o', 'export', info.node]);
      const tags = parseBlkidExport(r.exitCode === 0 ? r.stdout : '');
      return {
        kernelName: info.name,
        sectors: info.size / 512,
        holders: this.holdersOf(dev),
        partUuid: tags.get('PART_ENTRY_UUID'),
        fsType: tags.get('TYPE'),
        fsUuid: tags.get('UUID'),
        fsLabel: tags.get('LABEL'),
        partLabel: tags.get('PART_ENTRY_NAME'),
      };
    },
    holdersOf(dev) {
      // By their dm name where they are dm devices (as the lifecycle names its own).
      return blockDeviceInfo(dev).holders.map((h) => {
        try {
          return dm.nameOf(deviceNumberOfName(h)) ?? h;
        } catch {
          return h;
        }
      });
    },
    async findDevice(by) {
      if (by.partUuid !== undefined) {
        for (const node of await devicesWithTag('PARTUUID', by.partUuid)) {
          try {
            const st = fs.statSync(node);
            if (st.isBlockDevice() && dm.nameOf(fromDevT(st.rdev)) === undefined) return fromDevT(st.rdev);
          } catch {
            // blkid's cache can name a device that is gone
          }
        }
        return undefined;
      }
      if (by.kernelName === undefined) return undefined;
      try {
        return deviceNumberOfName(by.kernelName);
      } catch {
        return undefined;
      }
    },
    readStore(dev, m, length, shift = 0 as Sectors) {
      const device = FileIo.open(blockDeviceInfo(dev).node, { direct: true });
      const store = new MappedIo(
        device,
        m.segments.map((s) => ({ start: s.storeOffset, offset: bytes(s.physical + sectorsToBytes(shift)), length: s.length })),
        `store "${m.name}" on ${device.name}`,
      );
      try {
        return store.read(bytes(0), bytes(length));
      } finally {
        store.close();
      }
    },
    zeroStart(dev, length) {
      const io = FileIo.open(blockDeviceInfo(dev).node, { writable: true, direct: true });
      try {
        io.write(bytes(0), Buffer.alloc(length));
        io.flush();
      } finally {
        io.close();
      }
    },
    createStore(lock, options) {
      return createStoreLocked(lock, options);
    },
    async deleteStore(lock, name) {
      await deleteStoreLocked(lock, { name, dm });
    },
    extendStore(lock, options) {
      return extendStoreLocked(lock, options);
    },
    settleExtension(lock, name) {
      return settleExtension(lock, name);
    },
    filesystem: statfsOf,
    freeSpace(dev, fsType) {
      return readFreeSpace(blockDeviceInfo(dev).node, fsType);
    },
    exceptionChunks(dev, chunk) {
      const io = FileIo.open(blockDeviceInfo(dev).node, { direct: true });
      try {
        const t = readTable(io);
        if (t.chunk.bytes !== chunk.bytes) {
          throw new SnapstoreError('STORE_HEADER_MISMATCH', `the store on ${io.name} has ${t.chunk.bytes}-byte chunks, its manifest ${chunk.bytes}`, { hint: 'nothing was changed; the map does not point at the store' });
        }
        return new Set(t.oldChunks.subarray(0, t.count));
      } finally {
        io.close();
      }
    },
    mergeOffline(lock, o) {
      return mergeStoreOffline({
        origin: blockDeviceInfo(o.origin).node,
        store: o.store,
        stateDir: lock.dir.path,
        dm,
        ...(o.onProgress ? { onProgress: o.onProgress } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
        ...(o.batchBytes !== undefined ? { batchBytes: o.batchBytes } : {}),
      });
    },
    updateAgents() {
      return findAgents('/');
    },
    async loadTargets(types) {
      const have = () => new Set(dm.targetVersions().map((v) => v.name));
      const missing = types.filter((t) => !have().has(t));
      for (const mod of new Set(missing.map(targetModule))) await runProgram('modprobe', [mod]);
      const still = types.filter((t) => !have().has(t));
      if (still.length) {
        throw new SnapstoreError('TARGET_MISSING', `device-mapper has no ${still.join(', ')} target, and loading ${[...new Set(still.map(targetModule))].join(', ')} did not bring it`, {
          hint: 'this kernel needs dm-snapshot (CONFIG_DM_SNAPSHOT): install the module for it, or use a kernel that has it',
        });
      }
    },
  };
}
