/**
 * An in-memory device-mapper for host tests: it implements DeviceMapperApi
 * as the kernel behaves on the cases test/kernel checks (the same table of
 * operations runs against both: test/support/dm-cases.ts). It models
 * devices with an active and an inactive table, suspend state, open counts,
 * holders (a device a live table uses), mounts, EBUSY on a device held or
 * mounted, ENXIO on a missing one, EINVAL on a table the kernel would refuse,
 * events, and the status of snapshot targets (set by the test). Every call
 * is logged in `ops`; `failNext` makes one call fail as the kernel can.
 */
import type { DeviceInfo, DeviceMapperApi, ListedDevice, RemoveOptions, SuspendOptions } from '../../src/dm/api.js';
import type { TargetSpecOut, TargetVersion } from '../../src/dm/abi.js';
import { createDevice } from '../../src/dm/create-device.js';
import { dmError, type DmOperation } from '../../src/dm/errors.js';
import {
  LinearTarget,
  OtherTarget,
  SnapshotMergeTarget,
  SnapshotOriginTarget,
  SnapshotTarget,
  tableSpecs,
  type KernelFeatures,
  type Table,
  type Target,
} from '../../src/dm/targets.js';
import { deviceNumber, formatDeviceNumber, sameDevice, type DeviceNumber } from '../../src/linux/device-number.js';
import { ERRNO } from '../../src/linux/errno.js';
import type { Sectors } from '../../src/units/units.js';

/** The target versions of Debian's 6.1 kernel (LIST_VERSIONS there). */
export const LINUX_61_TARGETS: readonly TargetVersion[] = [
  { name: 'linear', version: [1, 4, 0] },
  { name: 'zero', version: [1, 2, 0] },
  { name: 'error', version: [1, 6, 0] },
  { name: 'striped', version: [1, 6, 0] },
  { name: 'flakey', version: [1, 5, 0] },
  { name: 'snapshot', version: [1, 16, 0] },
  { name: 'snapshot-origin', version: [1, 9, 0] },
  { name: 'snapshot-merge', version: [1, 5, 0] },
  { name: 'crypt', version: [1, 24, 0] },
];

interface FakeDevice {
  name: string;
  uuid: string;
  dev: DeviceNumber;
  active: Target[] | undefined;
  inactive: Target[] | undefined;
  suspended: boolean;
  readOnly: boolean;
  openCount: number;
  eventNr: number;
  mountedAt: string | undefined;
}

interface Disk {
  name: string;
  dev: DeviceNumber;
  sectors: number;
  mountedAt: string | undefined;
}

type Waiter = { name: string; eventNr: number; resolve: () => void };

export class FakeDeviceMapper implements DeviceMapperApi {
  readonly ops: string[] = [];
  private readonly devices = new Map<string, FakeDevice>();
  private readonly disks = new Map<string, Disk>();
  private readonly statusText = new Map<string, string>();
  private readonly failures: { op: DmOperation; name?: string; errno: number }[] = [];
  private waiters: Waiter[] = [];
  private nextMinor = 0;
  closed = false;
  /** Called when a table goes live (the fake platform plays the kernel writing a store's header). */
  onLive: ((name: string, table: readonly Target[]) => void) | undefined;
  /** Status text a device shows from the moment its next table goes live (a merge in progress). */
  readonly statusOnLive = new Map<string, string>();

  /** A block device that is not dm (a disk, a partition), `sectors` long. */
  addDisk(name: string, dev: DeviceNumber, sectors: number): void {
    this.disks.set(formatDeviceNumber(dev), { name, dev, sectors, mountedAt: undefined });
  }

  /** Marks a device (dm by name, or a disk by number) mounted, as a filesystem holding it exclusively. */
  mount(what: string | DeviceNumber, at: string | undefined): void {
    if (typeof what === 'string') this.need('info', what).mountedAt = at;
    else {
      const d = this.disks.get(formatDeviceNumber(what));
      if (d) d.mountedAt = at;
      else this.need('info', this.nameOf(what)!).mountedAt = at;
    }
  }

  /** A process opens the device (or closes it, with -1). */
  open(name: string, delta = 1): void {
    this.need('info', name).openCount += delta;
  }

  /** What status reports for `name` (a snapshot's usage, Invalid, ...); raises an event. */
  setStatus(name: string, text: string): void {
    this.statusText.set(name, text);
    this.event(this.need('status', name));
  }

  /** The next call of `op` (on `name`, if given) fails with `errno`, as the kernel's would. */
  failNext(op: DmOperation, errno: number, name?: string): void {
    this.failures.push({ op, errno, ...(name ? { name } : {}) });
  }

  /** create + load + resume without the async node step: for building test stacks. */
  createDeviceNow(name: string, table: Table, uuid = ''): DeviceNumber {
    const info = this.create(name, uuid);
    this.load(name, table);
    this.resume(name);
    return info.dev;
  }

  /** Every device's name (a test checks nothing leaked). */
  names(): string[] {
    return [...this.devices.keys()].sort();
  }

  /** A reboot: every device is gone; the system then sets up its own (the test does). */
  powerOff(): void {
    this.devices.clear();
    this.statusText.clear();
    this.statusOnLive.clear();
    this.failures.length = 0;
    this.waiters = [];
  }

  /** Whether any device is suspended now (a test asserts no filesystem I/O happens then). */
  anySuspended(): string[] {
    return [...this.devices.values()].filter((d) => d.suspended).map((d) => d.name);
  }

  private fail(op: DmOperation, name: string | undefined): void {
    const i = this.failures.findIndex((f) => f.op === op && (f.name === undefined || f.name === name));
    if (i < 0) return;
    const [f] = this.failures.splice(i, 1);
    throw dmError(op, name, f!.errno);
  }

  private begin(op: DmOperation, name: string | undefined, what = ''): void {
    if (this.closed) throw new Error('FakeDeviceMapper is closed');
    this.ops.push(`${op}${name ? ` ${name}` : ''}${what ? ` ${what}` : ''}`);
    this.fail(op, name);
  }

  private need(op: DmOperation, name: string): FakeDevice {
    const d = this.devices.get(name);
    if (!d) throw dmError(op, name, ERRNO.ENXIO);
    return d;
  }

  private info0(d: FakeDevice): DeviceInfo {
    return {
      name: d.name,
      uuid: d.uuid,
      dev: d.dev,
      openCount: d.openCount + (d.mountedAt ? 1 : 0),
      eventNr: d.eventNr,
      targetCount: d.active?.length ?? 0,
      suspended: d.suspended,
      readOnly: d.readOnly,
      activeTable: d.active !== undefined,
      inactiveTable: d.inactive !== undefined,
    };
  }

  private event(d: FakeDevice): void {
    d.eventNr++;
    const ready = this.waiters.filter((w) => w.name === d.name && w.eventNr !== d.eventNr);
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }

  /** Devices a target uses. */
  private usesOf(t: Target): DeviceNumber[] {
    if (t instanceof LinearTarget) return [t.device];
    if (t instanceof SnapshotOriginTarget) return [t.origin];
    if (t instanceof SnapshotTarget || t instanceof SnapshotMergeTarget) return [t.origin, t.cow];
    // crypt <cipher> <key> <iv_offset> <device> <offset>: it holds its device as a kernel crypt table does.
    const cryptDevice = t instanceof OtherTarget && t.type === 'crypt' ? /^\S+\s+\S+\s+\S+\s+(\d+):(\d+)\s/.exec(t.params) : null;
    if (cryptDevice) return [deviceNumber(Number(cryptDevice[1]), Number(cryptDevice[2]))];
    return [];
  }

  /** Size in sectors and whether it is mounted, of any device we know. */
  private lookup(dev: DeviceNumber): { sectors: number; mountedAt: string | undefined } | undefined {
    const disk = this.disks.get(formatDeviceNumber(dev));
    if (disk) return disk;
    const d = [...this.devices.values()].find((x) => sameDevice(x.dev, dev));
    if (!d) return undefined;
    return { sectors: (d.active ?? []).reduce((n, t) => n + t.length, 0), mountedAt: d.mountedAt };
  }

  private holders(d: FakeDevice): string[] {
    return [...this.devices.values()].filter((x) => x !== d && (x.active ?? []).some((t) => this.usesOf(t).some((u) => sameDevice(u, d.dev)))).map((x) => x.name);
  }

  create(name: string, uuid = '', options: { readOnly?: boolean } = {}): DeviceInfo {
    this.begin('create', name);
    if (this.devices.has(name) || (uuid !== '' && [...this.devices.values()].some((d) => d.uuid === uuid))) throw dmError('create', name, ERRNO.EBUSY);
    const d: FakeDevice = {
      name,
      uuid,
      dev: deviceNumber(253, this.nextMinor++),
      active: undefined,
      inactive: undefined,
      suspended: true,
      readOnly: Boolean(options.readOnly),
      openCount: 0,
      eventNr: 0,
      mountedAt: undefined,
    };
    this.devices.set(name, d);
    return this.info0(d);
  }

  load(name: string, table: Table, options: { readOnly?: boolean } = {}): DeviceInfo {
    this.begin('load', name);
    const d = this.need('load', name);
    const specs = tableSpecs(table, this.features());
    const known = new Set(LINUX_61_TARGETS.map((v) => v.name));
    for (let i = 0; i < table.length; i++) {
      const t = table[i]!;
      if (!known.has(t.type)) throw dmError('load', name, ERRNO.EINVAL, { tableProblem: `target type "${t.type}" is not loaded in this kernel (no dm-${t.type} module?)` });
      for (const u of this.usesOf(t)) {
        const target = this.lookup(u);
        if (!target) throw dmError('load', name, ERRNO.ENXIO, { tableProblem: `segment ${i} uses ${formatDeviceNumber(u)}, which is not a block device here` });
        if (target.mountedAt) throw dmError('load', name, ERRNO.EBUSY, { mounts: [`${formatDeviceNumber(u)} on ${target.mountedAt}`] });
        if (sameDevice(u, d.dev)) throw dmError('load', name, ERRNO.EINVAL, { tableProblem: `segment ${i} uses the device itself` });
      }
      if (t instanceof LinearTarget) {
        const size = this.lookup(t.device)!.sectors;
        if (t.offset + t.length > size) {
          throw dmError('load', name, ERRNO.EINVAL, {
            tableProblem: `segment ${i} (sectors ${specs[i]!.start}+${t.length}) maps ${formatDeviceNumber(t.device)} up to sector ${t.offset + t.length}, past its end at ${size}`,
          });
        }
      }
    }
    d.inactive = [...table];
    d.readOnly = Boolean(options.readOnly);
    return this.info0(d);
  }

  suspend(name: string, _options: SuspendOptions = {}): DeviceInfo {
    this.begin('suspend', name);
    const d = this.need('suspend', name);
    d.suspended = true;
    return this.info0(d);
  }

  resume(name: string, _options: SuspendOptions = {}): DeviceInfo {
    this.begin('resume', name);
    const d = this.need('resume', name);
    if (d.inactive) {
      // A table swap is no event (dm-ioctl.c do_resume sends a uevent only).
      d.active = d.inactive;
      d.inactive = undefined;
      this.statusText.delete(name);
      const next = this.statusOnLive.get(name);
      if (next !== undefined) {
        this.statusText.set(name, next);
        this.statusOnLive.delete(name);
      }
      this.onLive?.(name, d.active);
    }
    d.suspended = false;
    return this.info0(d);
  }

  clear(name: string): DeviceInfo {
    this.begin('clear', name);
    const d = this.need('clear', name);
    d.inactive = undefined;
    return this.info0(d);
  }

  async remove(name: string, _options: RemoveOptions = {}): Promise<void> {
    this.begin('remove', name);
    const d = this.need('remove', name);
    const holders = this.holders(d);
    if (d.mountedAt || d.openCount > 0 || holders.length) {
      throw dmError('remove', name, ERRNO.EBUSY, {
        ...(d.mountedAt ? { mounts: [`${formatDeviceNumber(d.dev)} on ${d.mountedAt}`] } : {}),
        holders,
        openCount: d.openCount,
      });
    }
    this.devices.delete(name);
    this.statusText.delete(name);
    this.event(d);
  }

  info(name: string): DeviceInfo {
    this.begin('info', name);
    return this.info0(this.need('info', name));
  }

  infoByUuid(uuid: string): DeviceInfo {
    this.begin('info', uuid);
    const d = [...this.devices.values()].find((x) => x.uuid === uuid);
    if (!d) throw dmError('info', uuid, ERRNO.ENXIO);
    return this.info0(d);
  }

  find(name: string): DeviceInfo | undefined {
    const d = this.devices.get(name);
    return d ? this.info0(d) : undefined;
  }

  status(name: string): TargetSpecOut[] {
    this.begin('status', name);
    const d = this.need('status', name);
    let start = 0;
    return (d.active ?? []).map((t) => {
      const out: TargetSpecOut = { start: start as Sectors, length: t.length, type: t.type, params: this.statusOf(name, t), status: 0 };
      start += t.length;
      return out;
    });
  }

  /** A snapshot's status: what the test set, else an empty store of the COW device's size. */
  private statusOf(name: string, t: Target): string {
    if (!(t instanceof SnapshotTarget || t instanceof SnapshotMergeTarget)) return '';
    const set = this.statusText.get(name);
    if (set !== undefined) return set;
    const meta = t.chunk.sectors * 2;
    return `${meta}/${this.lookup(t.cow)?.sectors ?? 0} ${meta}`;
  }

  table(name: string, options: { inactive?: boolean } = {}): Target[] {
    this.begin('table', name);
    const d = this.need('table', name);
    return [...((options.inactive ? d.inactive : d.active) ?? [])];
  }

  deps(name: string): DeviceNumber[] {
    this.begin('deps', name);
    const d = this.need('deps', name);
    const out: DeviceNumber[] = [];
    for (const t of d.active ?? []) for (const u of this.usesOf(t)) if (!out.some((o) => sameDevice(o, u))) out.push(u);
    return out;
  }

  list(uuidPrefix?: string): ListedDevice[] {
    this.begin('list', undefined);
    return [...this.devices.values()]
      .filter((d) => uuidPrefix === undefined || d.uuid.startsWith(uuidPrefix))
      .map((d) => ({ name: d.name, uuid: d.uuid || null, dev: d.dev }));
  }

  nameOf(dev: DeviceNumber): string | undefined {
    return [...this.devices.values()].find((d) => sameDevice(d.dev, dev))?.name;
  }

  targetVersions(): TargetVersion[] {
    return [...LINUX_61_TARGETS];
  }

  features(): KernelFeatures {
    return { targetVersions: new Map(LINUX_61_TARGETS.map((v) => [v.name, v.version])) };
  }

  waitEvent(name: string, eventNr: number): Promise<{ info: DeviceInfo; status: TargetSpecOut[] }> {
    this.begin('wait', name);
    const d = this.need('wait', name);
    const answer = () => {
      const now = this.devices.get(name);
      return { info: this.info0(now ?? d), status: now ? this.status(name) : [] };
    };
    if (d.eventNr !== eventNr) return Promise.resolve(answer());
    return new Promise((resolve) => this.waiters.push({ name, eventNr, resolve: () => resolve(answer()) }));
  }

  async ensureNode(name: string, _dev: DeviceNumber): Promise<string> {
    return `/dev/mapper/${name}`;
  }

  createDevice(name: string, uuid: string, table: Table, options: { readOnly?: boolean } = {}): Promise<DeviceInfo> {
    return createDevice(this, name, uuid, table, options);
  }

  close(): void {
    this.closed = true;
  }
}
