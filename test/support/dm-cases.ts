/**
 * One table of device-mapper cases, run against the in-memory fake on the
 * host (test/unit/fake-dm.test.ts) and against the real kernel in the VM
 * (test/kernel/dm-parity.guest.ts), with the same expectations: the fake
 * behaves like the kernel where the lifecycle's host tests rely on it.
 */
import { expect } from 'vitest';
import type { DeviceMapperApi } from '../../src/dm/api.js';
import { DmError } from '../../src/dm/errors.js';
import { parseSnapshotStatus } from '../../src/dm/status.js';
import { formatTable } from '../../src/dm/table-text.js';
import { LinearTarget, SnapshotOriginTarget, SnapshotTarget, ZeroTarget, type Target } from '../../src/dm/targets.js';
import { formatDeviceNumber, sameDevice, type DeviceNumber } from '../../src/linux/device-number.js';
import { UUID_PREFIX } from '../../src/state/names.js';
import { bytes, chunkSize, sectors } from '../../src/units/units.js';

export interface DmCaseEnv {
  readonly dm: DeviceMapperApi;
  /** a disk of at least 64 MiB nothing else uses */
  readonly disk: DeviceNumber;
  readonly diskSectors: number;
  /** keeps dm device `name` open (as a process would) until the returned function is called */
  openDevice(name: string): () => void;
  /** zeroes the first `length` bytes at `sector` of the disk (a new store's header) */
  zero(sector: number, length: number): void;
}

/** The DmError `f` throws (a test fails if it throws nothing or something else). */
export async function caught(f: () => unknown): Promise<DmError> {
  try {
    await f();
  } catch (e) {
    expect(e).toBeInstanceOf(DmError);
    return e as DmError;
  }
  throw new Error('expected a DmError');
}

const k4 = chunkSize(bytes(4096));

export const DM_CASES: Record<string, (env: DmCaseEnv) => Promise<void>> = {
  'create, load, resume: the device is live and its table reads back as loaded': async ({ dm, disk }) => {
    const table: Target[] = [new LinearTarget(sectors(64), disk, sectors(1024)), new ZeroTarget(sectors(8))];
    const info = await dm.createDevice('pc-live', `${UUID_PREFIX}pc-live`, table);
    expect(info).toMatchObject({ name: 'pc-live', suspended: false, activeTable: true, inactiveTable: false, targetCount: 2 });
    expect(formatTable(dm.table('pc-live'), dm.features())).toBe(formatTable(table, dm.features()));
    expect(dm.nameOf(info.dev)).toBe('pc-live');
    expect(dm.deps('pc-live').map(formatDeviceNumber)).toEqual([formatDeviceNumber(disk)]);
    expect(dm.list(UUID_PREFIX).map((d) => d.name)).toContain('pc-live');
    expect(dm.infoByUuid(`${UUID_PREFIX}pc-live`).name).toBe('pc-live');
    await dm.remove('pc-live');
    expect(dm.find('pc-live')).toBeUndefined();
  },

  'a name in use: EBUSY on create': async ({ dm }) => {
    await dm.createDevice('pc-dup', '', [new ZeroTarget(sectors(8))]);
    expect(await caught(() => dm.create('pc-dup'))).toMatchObject({ code: 'EBUSY', operation: 'create', device: 'pc-dup' });
    await dm.remove('pc-dup');
  },

  'a missing device: ENXIO on status, resume, remove': async ({ dm }) => {
    expect(dm.find('pc-none')).toBeUndefined();
    expect(await caught(() => dm.status('pc-none'))).toMatchObject({ code: 'ENXIO', operation: 'status' });
    expect(await caught(() => dm.resume('pc-none'))).toMatchObject({ code: 'ENXIO', operation: 'resume' });
    expect(await caught(() => dm.remove('pc-none'))).toMatchObject({ code: 'ENXIO', operation: 'remove' });
  },

  'a segment past the end of its device: EINVAL on load; createDevice leaves nothing': async ({ dm, disk, diskSectors }) => {
    const e = await caught(() => dm.createDevice('pc-past', '', [new LinearTarget(sectors(16), disk, sectors(diskSectors - 8))]));
    expect(e).toMatchObject({ code: 'EINVAL', operation: 'load' });
    expect(e.message).toMatch(/segment 0 .* past its end/);
    expect(dm.find('pc-past')).toBeUndefined();
  },

  'an unknown target type: EINVAL on load naming it': async ({ dm }) => {
    const e = await caught(() => dm.createDevice('pc-bogus', '', [{ type: 'nosuchtarget', length: sectors(8), render: () => '' }]));
    expect(e).toMatchObject({ code: 'EINVAL', operation: 'load' });
    expect(e.message).toMatch(/"nosuchtarget" is not loaded/);
    expect(dm.find('pc-bogus')).toBeUndefined();
  },

  'load stages an inactive table, clear drops it, resume swaps it in': async ({ dm, disk }) => {
    const first = [new LinearTarget(sectors(8), disk, sectors(0))];
    const second = [new LinearTarget(sectors(16), disk, sectors(2048))];
    const before = await dm.createDevice('pc-swap', '', first);
    expect(dm.load('pc-swap', second)).toMatchObject({ activeTable: true, inactiveTable: true });
    expect(formatTable(dm.table('pc-swap', { inactive: true }), dm.features())).toBe(formatTable(second, dm.features()));
    expect(dm.clear('pc-swap').inactiveTable).toBe(false);
    dm.load('pc-swap', second);
    dm.suspend('pc-swap');
    expect(dm.info('pc-swap').suspended).toBe(true);
    const after = dm.resume('pc-swap');
    // A table swap is no event (dm-ioctl.c do_resume sends a uevent, not dm_table_event).
    expect(after).toMatchObject({ suspended: false, inactiveTable: false, eventNr: before.eventNr });
    expect(formatTable(dm.table('pc-swap'), dm.features())).toBe(formatTable(second, dm.features()));
    await dm.remove('pc-swap');
  },

  'waitEvent resolves when the device is removed (dm-ioctl.c __hash_remove raises an event)': async ({ dm }) => {
    // The wait runs on a worker thread: under load the remove can reach the kernel first,
    // and a wait that comes after it finds no device (ENXIO), which says nothing of the
    // event. Such a try is made again, the remove held back longer.
    for (const delayMs of [0, 50, 250, 1000, 3000]) {
      const info = await dm.createDevice('pc-wait', '', [new ZeroTarget(sectors(8))]);
      const waited = dm.waitEvent('pc-wait', info.eventNr).then(
        (r) => r,
        (e: unknown) => e as Error & { code?: string },
      );
      await new Promise((r) => setTimeout(r, delayMs));
      await dm.remove('pc-wait');
      const r = await waited;
      if (r instanceof Error && r.code === 'ENXIO') continue;
      if (r instanceof Error) throw r;
      expect(r.info.eventNr).toBeGreaterThan(info.eventNr);
      return;
    }
    throw new Error('in five tries the wait never reached the kernel before the remove did');
  },

  'a device another table uses is held: EBUSY on remove until that one is gone': async ({ dm, disk }) => {
    const low = await dm.createDevice('pc-low', '', [new LinearTarget(sectors(64), disk, sectors(4096))]);
    await dm.createDevice('pc-high', '', [new LinearTarget(sectors(64), low.dev, sectors(0))]);
    const e = await caught(() => dm.remove('pc-low', { retries: 1, retryDelayMs: 10 }));
    expect(e).toMatchObject({ code: 'EBUSY', operation: 'remove', device: 'pc-low' });
    expect(e.message).toMatch(/held by pc-high/);
    await dm.remove('pc-high');
    await dm.remove('pc-low');
  },

  'an open device: EBUSY on remove naming the open count': async (env) => {
    const { dm } = env;
    await dm.createDevice('pc-open', '', [new ZeroTarget(sectors(8))]);
    const close = env.openDevice('pc-open');
    const e = await caught(() => dm.remove('pc-open', { retries: 1, retryDelayMs: 10 }));
    close();
    expect(e).toMatchObject({ code: 'EBUSY', operation: 'remove' });
    expect(e.message).toMatch(/open 1 time/);
    await dm.remove('pc-open');
  },

  'a snapshot over a zeroed store: status is allocated == metadata == two chunks, total the COW size': async (env) => {
    const { dm, disk } = env;
    env.zero(16384, 8192);
    const origin = await dm.createDevice('pc-origin-real', '', [new LinearTarget(sectors(8192), disk, sectors(8192))]);
    const cow = await dm.createDevice('pc-cow', '', [new LinearTarget(sectors(2048), disk, sectors(16384))]);
    await dm.createDevice('pc-snap', '', [new SnapshotTarget(sectors(8192), origin.dev, cow.dev, 'P', k4)]);
    await dm.createDevice('pc-origin', '', [new SnapshotOriginTarget(sectors(8192), origin.dev)]);
    const [s] = dm.status('pc-snap');
    expect(parseSnapshotStatus(s!.params)).toEqual({ state: 'active', allocated: 16, total: 2048, metadata: 16 });
    expect(dm.deps('pc-snap').some((d) => sameDevice(d, cow.dev))).toBe(true);
    const e = await caught(() => dm.remove('pc-cow', { retries: 1, retryDelayMs: 10 }));
    expect(e).toMatchObject({ code: 'EBUSY' });
    for (const n of ['pc-origin', 'pc-snap', 'pc-cow', 'pc-origin-real']) await dm.remove(n);
  },
};
