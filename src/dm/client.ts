/**
 * The device-mapper client: one object owns /dev/mapper/control and is the
 * only code that issues dm ioctls. Every request starts from one helper
 * (`call`) that builds the dm_ioctl (zeroed, version, name or uuid, data
 * size), issues it, decodes and validates the reply, and turns a failure
 * into a DmError naming the device, the operation and the errno.
 *
 * Blocking: every call but `waitEvent` is a synchronous ioctl that the
 * kernel answers at once (suspend waits for in-flight I/O to drain; that is
 * the point of it). DEV_WAIT blocks until the device's event counter moves,
 * so it runs on koffi's worker thread (ioctlAsync). koffi copies the worker
 * thread's errno into the main thread before calling back, so the errno
 * read in the callback is that of the ioctl (koffi 3 call.cc AsyncCall::
 * Complete); checked in test/dm/ioctl-async.test.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SnapstoreError } from '../errors.js';
import { formatDeviceNumber, type DeviceNumber } from '../linux/device-number.js';
import { ERRNO, errnoCode } from '../linux/errno.js';
import { SyscallError } from '../linux/errors.js';
import { ioctl, ioctlAsync } from '../linux/ioctl.js';
import {
  decodeDeps,
  decodeHeader,
  decodeNameList,
  decodeTargetSpecs,
  decodeTargetVersions,
  DM_IOCTL_SIZE,
  DmCommand,
  DmFlag,
  encodeRequest,
  targetSpecsSize,
  writeTargetSpecs,
  type DmIoctlHeader,
  type DmRequest,
  type TargetSpec,
  type TargetSpecOut,
  type TargetVersion,
} from './abi.js';
import type { DeviceInfo, DeviceMapperApi, ListedDevice, RemoveOptions, SuspendOptions } from './api.js';
import { createDevice } from './create-device.js';
import { describeMounts, devicesInParams, findTableProblem, holdersOf, lastDmKernelMessage } from './diagnose.js';
import { DmError, dmError, type DmErrorContext, type DmOperation } from './errors.js';
import { ensureNode, ensureNodeNow, nodePath, removeNode, udevRunning } from './nodes.js';
import { tableFromSpecs, tableSpecs, type KernelFeatures, type Table, type Target } from './targets.js';

export const CONTROL_PATH = '/dev/mapper/control';

/** First buffer for replies with a data area; grown on DM_BUFFER_FULL_FLAG. */
const INITIAL_DATA = 16 * 1024;
/** The kernel caps data_size far above this (DM_MAX_TARGETS * DM_MAX_TARGET_PARAMS); we stop here. */
const MAX_DATA = 1024 * 1024 * 1024;

const infoOf = (h: DmIoctlHeader, op: DmOperation): DeviceInfo => {
  if (!h.dev) throw dmError(op, h.name, ERRNO.EIO, {}, new Error('reply has no device number'));
  return {
    name: h.name,
    uuid: h.uuid,
    dev: h.dev,
    openCount: h.openCount,
    eventNr: h.eventNr,
    targetCount: h.targetCount,
    suspended: (h.flags & DmFlag.SUSPEND) !== 0,
    readOnly: (h.flags & DmFlag.READONLY) !== 0,
    activeTable: (h.flags & DmFlag.ACTIVE_PRESENT) !== 0,
    inactiveTable: (h.flags & DmFlag.INACTIVE_PRESENT) !== 0,
  };
};

const closed = (): SnapstoreError =>
  new SnapstoreError('DM_CLOSED', 'the device-mapper client was used after close()', { hint: 'this is a bug in the caller: open a new DeviceMapper' });

export class DeviceMapper implements DeviceMapperApi {
  private versions: TargetVersion[] | undefined;

  private constructor(
    private fd: number,
    /** The kernel's dm ioctl interface version. */
    readonly interfaceVersion: readonly [number, number, number],
  ) {}

  /** Opens the control node and checks the interface version (4.x). */
  static open(path = CONTROL_PATH): DeviceMapper {
    let fd: number;
    try {
      fd = fs.openSync(path, fs.constants.O_RDWR);
    } catch (e) {
      const errno = Math.abs((e as NodeJS.ErrnoException).errno ?? 2);
      throw dmError('open', path, errno, {}, e);
    }
    try {
      const buf = encodeRequest({}, DM_IOCTL_SIZE);
      ioctl(fd, DmCommand.VERSION, buf, 'DM_VERSION', path);
      return new DeviceMapper(fd, decodeHeader(buf).version);
    } catch (e) {
      fs.closeSync(fd);
      throw e instanceof SyscallError ? dmError('version', undefined, e.errno, {}, e) : e;
    }
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }

  /**
   * Issues one dm ioctl. `write` fills the data area (after the header);
   * `ctx` gathers explanations only when the call failed.
   */
  private call(
    op: DmOperation,
    command: number,
    req: DmRequest,
    dataSize = DM_IOCTL_SIZE,
    write?: (buf: Buffer) => void,
    ctx?: (errno: number) => DmErrorContext,
  ): { buf: Buffer; header: DmIoctlHeader } {
    if (this.fd < 0) throw closed();
    const buf = encodeRequest(req, dataSize);
    write?.(buf);
    try {
      ioctl(this.fd, command, buf, `dm ${op}`, req.name);
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
      throw dmError(op, req.name ?? req.uuid, e.errno, ctx?.(e.errno) ?? {}, e);
    }
    return { buf, header: decodeHeader(buf) };
  }

  /** Like `call` for replies with a data area: retries with a bigger buffer while the kernel says BUFFER_FULL. */
  private callGrowing(op: DmOperation, command: number, req: DmRequest, perTarget = 0): { buf: Buffer; header: DmIoctlHeader } {
    let size = DM_IOCTL_SIZE + INITIAL_DATA;
    for (;;) {
      const r = this.call(op, command, req, size);
      if (!(r.header.flags & DmFlag.BUFFER_FULL)) return r;
      if (size >= MAX_DATA) throw dmError(op, req.name, ERRNO.ENOBUFS, {}, new Error(`reply larger than ${MAX_DATA} bytes`));
      // The kernel reports the target count even when the buffer was short.
      size = Math.min(MAX_DATA, Math.max(size * 2, DM_IOCTL_SIZE + r.header.targetCount * perTarget));
    }
  }

  /** DEV_CREATE: a device with no table, suspended. With DM_DISABLE_UDEV or no udev, makes its node at once. */
  create(name: string, uuid = '', options: { readOnly?: boolean } = {}): DeviceInfo {
    const { header } = this.call('create', DmCommand.DEV_CREATE, { name, uuid, flags: options.readOnly ? DmFlag.READONLY : 0 });
    const info = infoOf(header, 'create');
    if (!udevRunning()) ensureNodeNow(name, info.dev);
    return info;
  }

  /** TABLE_LOAD into the inactive slot; `resume` makes it live. */
  load(name: string, table: Table, options: { readOnly?: boolean } = {}): DeviceInfo {
    return this.loadSpecs(name, tableSpecs(table, this.features()), options);
  }

  /** TABLE_LOAD of specs already rendered (tables we did not model, benchmarks). */
  loadSpecs(name: string, specs: readonly TargetSpec[], options: { readOnly?: boolean } = {}): DeviceInfo {
    const size = DM_IOCTL_SIZE + targetSpecsSize(specs);
    const { header } = this.call(
      'load',
      DmCommand.TABLE_LOAD,
      { name, targetCount: specs.length, flags: options.readOnly ? DmFlag.READONLY : 0 },
      size,
      (buf) => writeTargetSpecs(buf, DM_IOCTL_SIZE, specs),
      (errno) => this.explainLoad(specs, errno),
    );
    return infoOf(header, 'load');
  }

  private explainLoad(specs: readonly TargetSpec[], errno: number): DmErrorContext {
    const kernelLog = lastDmKernelMessage();
    if (errnoCode(errno) === 'EBUSY') {
      const devs = new Map<string, DeviceNumber>();
      for (const s of specs) for (const d of devicesInParams(s.params)) devs.set(`${d.major}:${d.minor}`, d);
      return { mounts: [...devs.values()].flatMap(describeMounts), kernelLog };
    }
    let known: Set<string> | undefined;
    try {
      known = new Set(this.targetVersions().map((v) => v.name));
    } catch {
      known = undefined;
    }
    return { tableProblem: findTableProblem(specs, known), kernelLog };
  }

  /** Suspends I/O: with lockfs (default) the filesystem on the device is frozen first. */
  suspend(name: string, options: SuspendOptions = {}): DeviceInfo {
    const flags = DmFlag.SUSPEND | (options.lockfs === false ? DmFlag.SKIP_LOCKFS : 0) | (options.flush === false ? DmFlag.NOFLUSH : 0);
    return infoOf(this.call('suspend', DmCommand.DEV_SUSPEND, { name, flags }).header, 'suspend');
  }

  /**
   * Resume: swaps in the inactive table if there is one (suspending first,
   * with the same lockfs/flush choices) and lets I/O flow.
   */
  resume(name: string, options: SuspendOptions = {}): DeviceInfo {
    const flags = (options.lockfs === false ? DmFlag.SKIP_LOCKFS : 0) | (options.flush === false ? DmFlag.NOFLUSH : 0);
    return infoOf(this.call('resume', DmCommand.DEV_SUSPEND, { name, flags }).header, 'resume');
  }

  /** TABLE_CLEAR: drops the inactive table. */
  clear(name: string): DeviceInfo {
    return infoOf(this.call('clear', DmCommand.TABLE_CLEAR, { name }).header, 'clear');
  }

  /** DEV_STATUS. */
  info(name: string): DeviceInfo {
    return infoOf(this.call('info', DmCommand.DEV_STATUS, { name }).header, 'info');
  }

  /** DEV_STATUS by uuid. */
  infoByUuid(uuid: string): DeviceInfo {
    return infoOf(this.call('info', DmCommand.DEV_STATUS, { uuid }).header, 'info');
  }

  /** DEV_STATUS, or undefined when there is no such device. */
  find(name: string): DeviceInfo | undefined {
    try {
      return this.info(name);
    } catch (e) {
      if (e instanceof DmError && e.code === 'ENXIO') return undefined;
      throw e;
    }
  }

  /**
   * DEV_REMOVE. While the device is busy and not mounted (udev, blkid and
   * the like open devices briefly), retries; a mounted device fails at once
   * with the mount named. Removes the /dev/mapper node we made.
   */
  async remove(name: string, options: RemoveOptions = {}): Promise<void> {
    const retries = options.retries ?? 10;
    const delay = options.retryDelayMs ?? 100;
    const before = this.find(name);
    if (!before) throw dmError('remove', name, ERRNO.ENXIO);
    for (let attempt = 0; ; attempt++) {
      try {
        this.call('remove', DmCommand.DEV_REMOVE, { name }, DM_IOCTL_SIZE, undefined, () => this.explainBusy(name, before.dev));
        break;
      } catch (e) {
        const mounted = e instanceof DmError && (e.code !== 'EBUSY' || describeMounts(before.dev).length > 0);
        if (!(e instanceof DmError) || mounted || attempt >= retries) throw e;
        await sleep(delay);
      }
    }
    removeNode(name, before.dev);
  }

  private explainBusy(name: string, dev: DeviceNumber): DmErrorContext {
    let openCount: number | undefined;
    try {
      openCount = this.info(name).openCount;
    } catch {
      openCount = undefined;
    }
    return { mounts: describeMounts(dev), holders: holdersOf(dev), openCount };
  }

  /** TABLE_STATUS: each target's status text (snapshot usage and the like). */
  status(name: string, options: { noflush?: boolean } = {}): TargetSpecOut[] {
    const { buf, header } = this.callGrowing('status', DmCommand.TABLE_STATUS, { name, flags: options.noflush ? DmFlag.NOFLUSH : 0 }, 128);
    return decodeTargetSpecs(buf, header);
  }

  /** The live table as the kernel prints it (TABLE_STATUS with DM_STATUS_TABLE_FLAG), raw. */
  tableSpecs(name: string, options: { inactive?: boolean } = {}): TargetSpecOut[] {
    const flags = DmFlag.STATUS_TABLE | (options.inactive ? DmFlag.QUERY_INACTIVE_TABLE : 0);
    const { buf, header } = this.callGrowing('table', DmCommand.TABLE_STATUS, { name, flags }, 128);
    return decodeTargetSpecs(buf, header);
  }

  /** The live table, parsed into targets. */
  table(name: string, options: { inactive?: boolean } = {}): Target[] {
    return tableFromSpecs(this.tableSpecs(name, options));
  }

  /** TABLE_DEPS: the devices the live table uses. */
  deps(name: string): DeviceNumber[] {
    const { buf, header } = this.callGrowing('deps', DmCommand.TABLE_DEPS, { name }, 8);
    return decodeDeps(buf, header);
  }

  /**
   * LIST_DEVICES, optionally only those whose uuid starts with `uuidPrefix`.
   * Asks the kernel for uuids (and to filter, which 6.x kernels do); where
   * the kernel is too old to include a uuid, asks DEV_STATUS per device.
   * Filters again here: older kernels ignore the filter.
   */
  list(uuidPrefix?: string): ListedDevice[] {
    const { buf, header } = this.callGrowing('list', DmCommand.LIST_DEVICES, { flags: DmFlag.UUID, uuid: uuidPrefix });
    const out: ListedDevice[] = [];
    for (const e of decodeNameList(buf, header)) {
      let uuid = e.uuid;
      if (uuid === undefined) {
        try {
          uuid = this.info(e.name).uuid || null;
        } catch (err) {
          if (err instanceof DmError && err.code === 'ENXIO') continue; // removed meanwhile
          throw err;
        }
      }
      if (uuidPrefix !== undefined && !(uuid ?? '').startsWith(uuidPrefix)) continue;
      out.push({ name: e.name, uuid, dev: e.dev });
    }
    return out;
  }

  /** LIST_VERSIONS: loaded target types and their versions. */
  targetVersions(): TargetVersion[] {
    const { buf, header } = this.callGrowing('target-versions', DmCommand.LIST_VERSIONS, {});
    this.versions = decodeTargetVersions(buf, header);
    return this.versions;
  }

  /**
   * What the kernel supports, for rendering tables. Read once; call
   * `targetVersions()` again after loading a module to refresh. Load every
   * module a command needs before its first suspend (docs/design.md).
   */
  features(): KernelFeatures {
    const versions = this.versions ?? this.targetVersions();
    return { targetVersions: new Map(versions.map((v) => [v.name, v.version])) };
  }

  /**
   * DEV_WAIT: resolves when the device's event counter differs from
   * `eventNr` (a snapshot becoming invalid, a merge finishing, a table
   * swap, the device being removed), with the device's state and status
   * then. Runs on a worker thread; it cannot be cancelled except by an event
   * on the device, so keep at most a few outstanding.
   */
  async waitEvent(name: string, eventNr: number): Promise<{ info: DeviceInfo; status: TargetSpecOut[] }> {
    if (this.fd < 0) throw closed();
    const size = DM_IOCTL_SIZE + INITIAL_DATA;
    const buf = encodeRequest({ name, eventNr }, size);
    try {
      await ioctlAsync(this.fd, DmCommand.DEV_WAIT, buf, 'dm wait', name);
    } catch (e) {
      if (e instanceof SyscallError) throw dmError('wait', name, e.errno, {}, e);
      throw e;
    }
    const header = decodeHeader(buf);
    // The status part is a courtesy of the kernel; fetch it again if it did not fit.
    const status = header.flags & DmFlag.BUFFER_FULL ? this.status(name) : decodeTargetSpecs(buf, header);
    return { info: infoOf(header, 'wait'), status };
  }

  /** The dm name of a device number (sysfs), or undefined when it is not a dm device. */
  nameOf(dev: DeviceNumber): string | undefined {
    try {
      return fs.readFileSync(path.join('/sys/dev/block', formatDeviceNumber(dev), 'dm', 'name'), 'utf8').trim();
    } catch {
      return undefined;
    }
  }

  async ensureNode(name: string, dev: DeviceNumber): Promise<string> {
    await ensureNode(name, dev);
    return nodePath(name);
  }

  createDevice(name: string, uuid: string, table: Table, options: { readOnly?: boolean } = {}): Promise<DeviceInfo> {
    return createDevice(this, name, uuid, table, options);
  }
}
