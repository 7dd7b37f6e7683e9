/**
 * A whole system for the lifecycle's host tests: the fake device-mapper with
 * a disk and the origin `data` (a passthrough over it, as the system sets it
 * up at boot), mounts, the device the state directory is on, and stores that
 * live only in their manifests (the store layer itself is tested on real
 * filesystems). It plays the kernel where the lifecycle reads what the
 * kernel wrote: a persistent snapshot going live writes its store's header.
 */
import * as fs from 'node:fs';
import type { OfflineMergeRequest, PlainDevice, Platform } from '../../src/snapshot/platform.js';
import type { AgentsFound } from '../../src/snapshot/update-agents.js';
import type { MergeSummary } from '../../src/cow/merge.js';
import { SnapstoreError } from '../../src/errors.js';
import { LinearTarget, SnapshotMergeTarget, SnapshotTarget, type Target } from '../../src/dm/targets.js';
import { deviceNumber, formatDeviceNumber, sameDevice, type DeviceNumber } from '../../src/linux/device-number.js';
import type { StateLock } from '../../src/state/lock.js';
import { parseDmUuid, statePaths } from '../../src/state/names.js';
import type { CreateStoreOptions } from '../../src/store/create.js';
import { mapChecksum, MANIFEST_VERSION, readManifest, writeManifest, type StoreManifest } from '../../src/store/manifest.js';
import type { ExtendStoreOptions, ExtendStoreResult } from '../../src/store/extend.js';
import type { FsInfo } from '../../src/linux/fs.js';
import type { FreeSpace } from '../../src/store/free-space.js';
import { faultPoint } from '../../src/snapshot/faults.js';
import type { StoreSegment } from '../../src/fiemap/align.js';
import type { Bytes, Sectors } from '../../src/units/units.js';
import { FakeDeviceMapper } from './fake-dm.js';

export const DISK = deviceNumber(254, 0);
export const DISK_SECTORS = 1 << 21; // 1 GiB
export const ORIGIN = 'data';
export const ORIGIN_PATH = '/dev/mapper/data';
/** the origin's dm uuid, as LVM gives one */
export const ORIGIN_UUID = 'LVM-data-0b5a0c1e';
export const ORIGIN_TABLE: Target[] = [new LinearTarget((DISK_SECTORS / 2) as Sectors, DISK, (DISK_SECTORS / 2) as Sectors), new LinearTarget((DISK_SECTORS / 2) as Sectors, DISK, 0 as Sectors)];
/** Where the fake stores begin on the origin (bytes). */
const STORE_AT = 64 << 20;

export class FakePlatform implements Platform {
  readonly dm = new FakeDeviceMapper();
  /** device paths the test made */
  readonly paths = new Map<string, DeviceNumber>();
  /** mount points by device */
  readonly mounts = new Map<string, string>();
  /** the device the state directory (any path) is on */
  stateDirDevice = deviceNumber(8, 1);
  /** paths on the origin's filesystem (an update agent's record there); every other path is on stateDirDevice */
  originPaths: string[] = [];
  /** the update agents installed and their records */
  agents: AgentsFound = { states: [], offFilesystem: [] };
  /** whether the stores' filesystem is mounted (a store can be deleted) */
  storeFsMounted = true;
  /** the dm device the stores' filesystem is mounted from (the origin, unless a test says otherwise) */
  storeFsDm = ORIGIN;
  /** what is on the disk at the start of each store: its header, as the kernel wrote it */
  readonly headers = new Map<string, Buffer>();
  /** a header the kernel invalidated (store full) */
  invalidate(store: string): void {
    this.headers.get(store)?.writeUInt32LE(0, 4);
  }

  constructor() {
    this.dm.addDisk('vda', DISK, DISK_SECTORS);
    this.paths.set('/dev/vda', DISK);
    this.boot();
    this.dm.onLive = (name, table) => {
      for (const t of table) {
        if (!(t instanceof SnapshotTarget || t instanceof SnapshotMergeTarget)) continue;
        const cowName = this.dm.nameOf(t.cow);
        const store = cowName ? parseDmUuid(this.dm.info(cowName).uuid)?.name : undefined;
        if (store && !this.headers.has(store)) {
          const h = Buffer.alloc(512);
          h.writeUInt32LE(0x70416e53, 0);
          h.writeUInt32LE(1, 4);
          h.writeUInt32LE(1, 8);
          h.writeUInt32LE(t.chunk.sectors, 12);
          this.headers.set(store, h);
        }
      }
      void name;
    };
  }

  /** Plain disks by kernel name (update mode's origins): their size and partition UUID. */
  readonly plain = new Map<string, { dev: DeviceNumber; sectors: number; partUuid: string | undefined; fsType: string | undefined; fsUuid?: string; fsLabel?: string; partLabel?: string }>();

  /** A plain disk or partition `/dev/NAME` (not dm): an update's origin, a partition to enroll. */
  addPlain(name: string, dev: DeviceNumber, sectors: number, partUuid?: string, fsType = 'ext4', names: { fsUuid?: string; fsLabel?: string; partLabel?: string } = {}): void {
    this.dm.addDisk(name, dev, sectors);
    this.plain.set(name, { dev, sectors, partUuid, fsType, ...names });
    this.paths.set(`/dev/${name}`, dev);
  }

  /** Marks a plain disk mounted (or not). */
  mountPlain(name: string, at: string | undefined): void {
    const dev = this.plain.get(name)!.dev;
    if (at === undefined) this.mounts.delete(formatDeviceNumber(dev));
    else this.mounts.set(formatDeviceNumber(dev), at);
    this.dm.mount(dev, at);
  }

  holdersOf(dev: DeviceNumber): string[] {
    return this.dm.list().filter((d) => this.dm.find(d.name)?.activeTable && this.dm.deps(d.name).some((u) => sameDevice(u, dev))).map((d) => d.name);
  }

  async describeDevice(dev: DeviceNumber): Promise<PlainDevice> {
    const holders = this.holdersOf(dev);
    for (const [kernelName, p] of this.plain) if (sameDevice(p.dev, dev)) return { kernelName, sectors: p.sectors, holders, partUuid: p.partUuid, fsType: p.fsType, fsUuid: p.fsUuid, fsLabel: p.fsLabel, partLabel: p.partLabel };
    const name = this.dm.nameOf(dev);
    return { kernelName: name ?? 'vda', sectors: name ? Number(this.dm.table(name).reduce((n, t) => n + t.length, 0)) : DISK_SECTORS, holders, partUuid: undefined, fsType: 'ext4', fsUuid: undefined, fsLabel: undefined, partLabel: undefined };
  }

  async findDevice(by: { partUuid?: string; kernelName?: string }): Promise<DeviceNumber | undefined> {
    for (const [kernelName, p] of this.plain) {
      if (by.partUuid !== undefined ? p.partUuid === by.partUuid : kernelName === by.kernelName) return p.dev;
    }
    return undefined;
  }

  /** Boots so far: each has its own boot id. In an object, shared with the lifecycle's copy of the platform. */
  private readonly boots = { count: 0 };
  bootId(): string {
    return `fake-boot-${this.boots.count}`;
  }

  /** The system's boot: the origin passthrough over the disk (after a power-off, nothing else). */
  boot(): void {
    this.boots.count++;
    const dev = this.dm.createDeviceNow(ORIGIN, ORIGIN_TABLE, ORIGIN_UUID);
    this.paths.set(ORIGIN_PATH, dev);
  }

  /** Power off and boot again: every dm device gone, the origin set up again; disks (headers) kept. */
  reboot(): void {
    this.dm.powerOff();
    this.mounts.clear();
    for (const p of this.plain.values()) this.dm.mount(p.dev, undefined);
    this.boot();
  }

  originDev(): DeviceNumber {
    return this.dm.info(ORIGIN).dev;
  }

  mountOrigin(at: string | undefined): void {
    if (at === undefined) this.mounts.delete(formatDeviceNumber(this.originDev()));
    else this.mounts.set(formatDeviceNumber(this.originDev()), at);
    this.dm.mount(ORIGIN, at);
  }

  blockDevice(path: string): DeviceNumber {
    const dev = this.paths.get(path);
    if (!dev) throw new SnapstoreError('ORIGIN_UNSUPPORTED', `${path} is not a block device`, { hint: 'fake' });
    return dev;
  }
  mountedAt(dev: DeviceNumber): string | undefined {
    return this.mounts.get(formatDeviceNumber(dev));
  }
  mountedDevice(mountPoint: string): DeviceNumber | undefined {
    for (const p of this.plain.values()) if (this.mounts.get(formatDeviceNumber(p.dev)) === mountPoint) return p.dev;
    return undefined;
  }
  filesystemDevice(path: string): DeviceNumber {
    return this.originPaths.some((p) => path === p || path.startsWith(`${p}/`)) ? this.originDev() : this.stateDirDevice;
  }
  updateAgents(): AgentsFound {
    return this.agents;
  }
  async filesystemUuid(): Promise<string | undefined> {
    return '0b5a0c1e-8d2b-4c2a-9a53-0d7a9c1f2e11';
  }
  readStore(_dev: DeviceNumber, m: StoreManifest, length: number): Buffer {
    return Buffer.from(this.headers.get(m.name) ?? Buffer.alloc(length)).subarray(0, length);
  }
  async loadTargets(): Promise<void> {}
  /** Devices whose start was zeroed (a store's header written beneath a crypt layer). */
  readonly zeroed: string[] = [];
  zeroStart(dev: DeviceNumber): void {
    const name = this.dm.nameOf(dev)!;
    this.zeroed.push(name);
    const store = parseDmUuid(this.dm.info(name).uuid)?.name;
    if (store) this.headers.delete(store);
  }

  /** The next store the lifecycle asks for is refused with this (as the store layer refuses a size, a filesystem). */
  storeRefusal: SnapstoreError | undefined;

  async createStore(lock: StateLock, options: CreateStoreOptions): Promise<StoreManifest> {
    if (this.storeRefusal) throw this.storeRefusal;
    // Four pieces on the origin, out of order: the cow table has something to map.
    const piece = options.size / 4;
    const segments: StoreSegment[] = [3, 0, 2, 1].map((k, i) => ({
      storeOffset: (i * piece) as Bytes,
      fileOffset: (i * piece) as Bytes,
      physical: (STORE_AT + k * 2 * piece) as Bytes,
      length: piece as Bytes,
    }));
    const m: StoreManifest = {
      version: MANIFEST_VERSION,
      kind: 'file',
      name: options.name,
      file: options.file,
      inode: 12,
      generation: 1,
      fileSize: options.size,
      usableBytes: options.size,
      droppedBytes: 0 as Bytes,
      chunkSize: options.chunk.bytes,
      filesystem: { type: 'ext4', blockSize: 4096 as Bytes },
      device: { fsUuid: '0b5a0c1e-8d2b-4c2a-9a53-0d7a9c1f2e11', dmName: this.storeFsDm, devNumber: formatDeviceNumber(this.dm.info(this.storeFsDm).dev), kernelName: 'dm-0' },
      segments,
      mapSha256: mapChecksum(segments),
      createdAt: new Date().toISOString(),
    };
    writeManifest(lock, m);
    return m;
  }

  /** Stores whose extension was cut after the file grew (a crash inside the store layer's extend). */
  readonly extending = new Set<string>();
  /**
   * Where the next extension's blocks are on the origin (bytes), past the stores made at create,
   * and the free space on the store's filesystem (bytes available to users). In an object: the
   * lifecycle works on a copy of the platform (its dm wrapped), so counters must be shared.
   */
  readonly space = { growAt: 512 << 20, available: 256 << 20 };
  /** The filesystem's free space at create, by byte range (default: everything past the stores). */
  freeAtCreate: FreeSpace = { starts: Float64Array.of(512 << 20), ends: Float64Array.of(DISK_SECTORS * 512), bytes: (DISK_SECTORS * 512 - (512 << 20)) as Bytes };
  /** Origin chunks with an exception (what the store's table holds). */
  readonly excepted = new Set<number>();
  /** How often the free space was read (a watcher reads it once). */
  readonly reads = { freeSpace: 0 };

  async extendStore(lock: StateLock, o: ExtendStoreOptions): Promise<ExtendStoreResult> {
    const m = readManifest(lock.dir, o.name);
    if (o.keepFree + 4096 > this.space.available) throw new SnapstoreError('STORE_CANNOT_GROW', `no room beyond the ${o.keepFree} bytes kept free (fake)`, { hint: 'free space' });
    const add = o.upToRoom ? Math.min(o.add, Math.max(1, Math.floor(((this.space.available - o.keepFree) * (o.roomShare ?? 1)) / 4096)) * 4096) : o.add;
    o = { ...o, add: add as Bytes };
    if (o.add + o.keepFree > this.space.available) {
      throw new SnapstoreError('ENOSPC', `no room for ${o.add} more bytes keeping ${o.keepFree} free (fake)`, { hint: 'free space' });
    }
    const at = this.space.growAt;
    this.extending.add(o.name);
    faultPoint('store:file grown');
    this.space.growAt += o.add;
    this.space.available -= o.add;
    const fresh: StoreSegment[] = [{ storeOffset: m.usableBytes, fileOffset: m.fileSize, physical: at as Bytes, length: o.add }];
    const admitted = o.admit ? await o.admit(fresh) : fresh;
    const added: StoreSegment[] = [];
    let store = m.usableBytes as number;
    for (const s of admitted) {
      added.push({ ...s, storeOffset: store as Bytes });
      store += s.length;
    }
    const segments = [...m.segments, ...added];
    const next: StoreManifest = { ...m, fileSize: (m.fileSize + o.add) as Bytes, usableBytes: store as Bytes, droppedBytes: (m.fileSize + o.add - store) as Bytes, segments, mapSha256: mapChecksum(segments), mapGeneration: (m.mapGeneration ?? 0) + 1 };
    writeManifest(lock, next);
    faultPoint('store:manifest grown');
    this.extending.delete(o.name);
    return { manifest: next, addedBytes: (store - m.usableBytes) as Bytes, heldBackBytes: (o.add - (store - m.usableBytes)) as Bytes };
  }

  settleExtension(_lock: StateLock, name: string): string | undefined {
    if (!this.extending.delete(name)) return undefined;
    return `store "${name}": an interrupted extension undone (fake)`;
  }

  /** The store's filesystem is the origin's (1 GiB); what is free follows `space` (root's reserve: 5% more). */
  filesystem(): FsInfo {
    const size = DISK_SECTORS * 512;
    return { magic: 0xef53, type: 'ext4', blockSize: 4096 as Bytes, sizeBytes: size as Bytes, availableBytes: this.space.available as Bytes, freeBytes: (this.space.available + size / 20) as Bytes };
  }

  async freeSpace(): Promise<FreeSpace> {
    this.reads.freeSpace++;
    return this.freeAtCreate;
  }

  exceptionChunks(): Set<number> {
    return this.excepted;
  }

  /** Offline merges asked for: the store and the origin device, in order. */
  readonly offlineMerges: { store: string; origin: string }[] = [];

  async mergeOffline(_lock: StateLock, o: OfflineMergeRequest): Promise<MergeSummary> {
    // The origin must be unused, as the real merge opens it exclusively.
    const name = this.dm.nameOf(o.origin);
    if (this.mounts.has(formatDeviceNumber(o.origin)) || (name !== undefined && this.dm.info(name).openCount > 0)) {
      throw new SnapstoreError('DEVICE_IN_USE', `origin ${formatDeviceNumber(o.origin)} is in use (fake)`, { hint: 'unmount it' });
    }
    this.offlineMerges.push({ store: o.store, origin: formatDeviceNumber(o.origin) });
    return { outcome: 'merged', totalExceptions: 8, alreadyMerged: 0, chunks: 8, bytes: (8 * 4096) as Bytes, reads: 1, writes: 1, batches: 1, verified: false, seconds: 0, bytesPerSecond: 0 };
  }

  async deleteStore(lock: StateLock, name: string): Promise<void> {
    if (!this.storeFsMounted) {
      throw new SnapstoreError('STORE_FS_ABSENT', `the file of store "${name}" cannot be checked: its filesystem is not mounted (fake)`, { hint: 'mount it' });
    }
    fs.rmSync(statePaths.storeManifest(lock.dir.path, name), { force: true });
    this.headers.delete(name);
  }
}
