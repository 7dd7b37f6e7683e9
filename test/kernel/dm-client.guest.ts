// Guest side of the dm client suite (runs in the VM; host side: dm.test.ts). dmsetup is the
// independent oracle: what we load reads back identically through `dmsetup table`, our
// status equals `dmsetup status`, and what dmsetup makes our client lists and parses.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { guestDisk, requireGuest, run } from '../vm/guest.js';
import { caught } from '../support/dm-cases.js';
import { DeviceMapper } from '../../src/dm/client.js';
import { formatTable } from '../../src/dm/table-text.js';
import { UUID_PREFIX as SNAPSTORE_UUID_PREFIX } from '../../src/state/names.js';
import { mergeComplete, parseSnapshotStatus } from '../../src/dm/status.js';
import {
  ErrorTarget,
  FlakeyTarget,
  LinearTarget,
  parseTableText,
  SnapshotMergeTarget,
  SnapshotOriginTarget,
  SnapshotTarget,
  ZeroTarget,
  type Table,
} from '../../src/dm/targets.js';
import { fromDevT, type DeviceNumber } from '../../src/linux/device-number.js';
import { bytes, chunkSize, sectors } from '../../src/units/units.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';

let dm: DeviceMapper;
let disk: string;
let diskDev: DeviceNumber;
const made: string[] = [];
const k4 = chunkSize(bytes(4096));

// Regions of the test disk (sectors): each test owns one.
const R_MIXED = 0; // 4096
const R_FS = 8192; // 131072: ext4 for EBUSY and lockfs
const R_SNAP_ORIGIN = 139264; // 16384
const R_SNAP_COW = 155648; // 2048 (1 MiB: fills fast)
const R_MERGE_ORIGIN = 157696; // 16384
const R_MERGE_COW = 174080; // 16384
const R_BIG = 262144; // 800000: 100,000 segments of 8 sectors

const devOf = (path: string): DeviceNumber => fromDevT(statSync(path).rdev);
const dmsetup = (...args: string[]): string => run('dmsetup', args);
/** dmsetup's table/status text without its trailing spaces. */
const lines = (text: string): string => text.split('\n').map((l) => l.trimEnd()).filter(Boolean).join('\n');

async function create(name: string, table: Table, uuid = `${SNAPSTORE_UUID_PREFIX}${name}`): Promise<DeviceNumber> {
  const info = await dm.createDevice(name, uuid, table);
  made.push(name);
  return info.dev;
}

/** A new store needs its header chunk and first exception area zeroed (docs/design.md). */
function zeroStart(path: string, length: number): void {
  const fd = openSync(path, 'r+');
  try {
    writeFileSync(fd, Buffer.alloc(length));
  } finally {
    closeSync(fd);
  }
}


beforeAll(() => {
  dm = DeviceMapper.open();
  disk = guestDisk('dm');
  diskDev = devOf(disk);
});

afterAll(async () => {
  for (const name of made.reverse()) {
    if (dm.find(name)) await dm.remove(name).catch(() => undefined);
  }
  dm.close();
});

describe('dm client against the kernel', () => {
  test('version and target versions', () => {
    expect(dm.interfaceVersion[0]).toBe(4);
    const names = dm.targetVersions().map((v) => v.name);
    for (const t of ['linear', 'zero', 'error', 'flakey', 'snapshot', 'snapshot-origin', 'snapshot-merge']) expect(names).toContain(t);
    const ours = dmsetup('version').match(/Driver version:\s+(\S+)/)?.[1];
    expect(dm.interfaceVersion.join('.')).toBe(ours);
  });

  test('a mixed table reads back identically through dmsetup table and our table()', async () => {
    const table: Table = [
      new LinearTarget(sectors(8), diskDev, sectors(R_MIXED + 1000)),
      new ZeroTarget(sectors(16)),
      new ErrorTarget(sectors(8)),
      new LinearTarget(sectors(8), diskDev, sectors(R_MIXED)),
      new FlakeyTarget(sectors(64), diskDev, sectors(R_MIXED + 2048), 0, 1, { writes: 'drop' }),
      new FlakeyTarget(sectors(64), diskDev, sectors(R_MIXED + 2048), 3, 0),
    ];
    const dev = await create('t-mixed', table);
    expect(existsSync('/dev/mapper/t-mixed')).toBe(true);
    expect(devOf('/dev/mapper/t-mixed')).toEqual(dev);
    expect(lines(dmsetup('table', 't-mixed'))).toBe(formatTable(table, dm.features()));
    expect(dm.table('t-mixed')).toEqual(table);
    expect(dm.deps('t-mixed')).toEqual([diskDev]);
    // status of targets without status text: empty, as dmsetup shows it
    expect(dm.status('t-mixed').map((s) => `${s.start} ${s.length} ${s.type}${s.params ? ' ' + s.params : ''}`).join('\n')).toBe(lines(dmsetup('status', 't-mixed')));
  });

  test('load stages an inactive table that reads back, clear drops it, resume swaps it in', async () => {
    const first = [new ZeroTarget(sectors(64))];
    await create('t-swap', first);
    const second = [new LinearTarget(sectors(32), diskDev, sectors(R_MIXED)), new ErrorTarget(sectors(32))];
    expect(dm.load('t-swap', second).inactiveTable).toBe(true);
    expect(dm.table('t-swap', { inactive: true })).toEqual(second);
    expect(lines(dmsetup('table', '--inactive', 't-swap'))).toBe(formatTable(second, dm.features()));
    expect(dm.table('t-swap')).toEqual(first);
    expect(dm.clear('t-swap').inactiveTable).toBe(false);
    expect(dm.info('t-swap').inactiveTable).toBe(false);
    dm.load('t-swap', second);
    const r = dm.resume('t-swap');
    expect(r).toMatchObject({ suspended: false, inactiveTable: false, activeTable: true, targetCount: 2 });
    expect(lines(dmsetup('table', 't-swap'))).toBe(formatTable(second, dm.features()));
  });

  test('snapshot, origin: tables and status equal dmsetup; an invalidated snapshot raises the event we wait for', async () => {
    const originReal = await create('t-snap-real', [new LinearTarget(sectors(16384), diskDev, sectors(R_SNAP_ORIGIN))]);
    const cow = await create('t-snap-cow', [new LinearTarget(sectors(2048), diskDev, sectors(R_SNAP_COW))]);
    zeroStart('/dev/mapper/t-snap-cow', 8192);
    const snapTable = [new SnapshotTarget(sectors(16384), originReal, cow, 'P', k4)];
    await create('t-snap', snapTable);
    const originTable = [new SnapshotOriginTarget(sectors(16384), originReal)];
    await create('t-snap-origin', originTable);
    expect(lines(dmsetup('table', 't-snap'))).toBe(formatTable(snapTable, dm.features()));
    expect(lines(dmsetup('table', 't-snap-origin'))).toBe(formatTable(originTable, dm.features()));
    expect(dm.table('t-snap')).toEqual(snapTable);

    const [st] = dm.status('t-snap');
    expect(`0 16384 snapshot ${st!.params}`).toBe(lines(dmsetup('status', 't-snap')));
    expect(parseSnapshotStatus(st!.params)).toMatchObject({ state: 'active', total: 2048 });

    const before = dm.info('t-snap');
    const waiting = dm.waitEvent('t-snap', before.eventNr);
    let settled = false;
    void waiting.then(() => (settled = true), () => (settled = true));
    // The event loop keeps running while DEV_WAIT blocks a worker thread.
    await new Promise((r) => setTimeout(r, 50));
    expect(settled).toBe(false);
    run('dd', ['if=/dev/urandom', 'of=/dev/mapper/t-snap-origin', 'bs=1M', 'count=4', 'oflag=direct', 'status=none']);
    const ev = await waiting;
    expect(ev.info.eventNr).not.toBe(before.eventNr);
    const now = dm.status('t-snap')[0]!.params;
    expect(parseSnapshotStatus(now)).toEqual({ state: 'invalid' });
    expect(lines(dmsetup('status', 't-snap'))).toBe(`0 16384 snapshot ${now}`);
  });

  test('snapshot-merge reads back and merges until allocated equals metadata', async () => {
    const originReal = await create('t-merge-real', [new LinearTarget(sectors(16384), diskDev, sectors(R_MERGE_ORIGIN))]);
    const cow = await create('t-merge-cow', [new LinearTarget(sectors(16384), diskDev, sectors(R_MERGE_COW))]);
    zeroStart('/dev/mapper/t-merge-cow', 8192);
    const before = randomBytes(1 << 20);
    writeFileSync('/dev/mapper/t-merge-real', before);
    await create('t-merge', [new SnapshotTarget(sectors(16384), originReal, cow, 'P', k4)]);
    await create('t-merge-origin', [new SnapshotOriginTarget(sectors(16384), originReal)]);
    run('dd', ['if=/dev/urandom', 'of=/dev/mapper/t-merge-origin', 'bs=1M', 'count=1', 'oflag=direct', 'status=none']);
    const used = parseSnapshotStatus(dm.status('t-merge')[0]!.params);
    expect(used.state === 'active' && used.allocated > used.metadata).toBe(true);

    dm.suspend('t-merge-origin');
    dm.suspend('t-merge');
    const mergeTable = [new SnapshotMergeTarget(sectors(16384), originReal, cow, 'P', k4)];
    dm.load('t-merge', mergeTable);
    dm.resume('t-merge');
    dm.resume('t-merge-origin');
    expect(lines(dmsetup('table', 't-merge'))).toBe(formatTable(mergeTable, dm.features()));
    expect(dm.table('t-merge')).toEqual(mergeTable);
    for (let i = 0; i < 600 && !mergeComplete(parseSnapshotStatus(dm.status('t-merge')[0]!.params)); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(mergeComplete(parseSnapshotStatus(dm.status('t-merge')[0]!.params))).toBe(true);
    const fd = openSync('/dev/mapper/t-merge-origin', 'r');
    const back = Buffer.alloc(before.length);
    readSync(fd, back, 0, back.length, 0);
    closeSync(fd);
    expect(back.equals(before)).toBe(true);
  });

  test('devices made by dmsetup are listed and parsed', () => {
    const text = `0 8 linear ${diskDev.major}:${diskDev.minor} 4000\n8 8 zero`;
    dmsetup('create', 'ext-ours', '--uuid', `${SNAPSTORE_UUID_PREFIX}ext`, '--table', text);
    made.push('ext-ours');
    dmsetup('create', 'ext-other', '--table', '0 8 zero');
    made.push('ext-other');
    const ours = dm.list(SNAPSTORE_UUID_PREFIX);
    expect(ours.find((d) => d.name === 'ext-ours')).toMatchObject({ uuid: `${SNAPSTORE_UUID_PREFIX}ext` });
    expect(ours.every((d) => d.uuid?.startsWith(SNAPSTORE_UUID_PREFIX))).toBe(true);
    expect(ours.find((d) => d.name === 'ext-other')).toBeUndefined();
    const all = dm.list();
    expect(all.find((d) => d.name === 'ext-other')).toMatchObject({ uuid: null });
    const names = lines(dmsetup('ls')).split('\n').map((l) => l.split(/\s+/)[0]).sort();
    expect(all.map((d) => d.name).sort()).toEqual(names);
    expect(dm.table('ext-ours')).toEqual(parseTableText(dmsetup('table', 'ext-ours')));
    expect(dm.info('ext-ours').dev).toEqual(devOf(`/dev/mapper/ext-ours`));
  });

  test('a 100,000-segment linear table loads and reads back identically', async () => {
    const n = 100_000;
    const table: Table = Array.from({ length: n }, (_, i) => new LinearTarget(sectors(8), diskDev, sectors(R_BIG + ((i * 7) % n) * 8)));
    await create('t-big', table);
    expect(dm.info('t-big').targetCount).toBe(n);
    expect(dm.table('t-big')).toEqual(table);
    // run() keeps execFileSync's 1 MiB output limit; this table prints about 2 MiB.
    const text = execFileSync('dmsetup', ['table', 't-big'], { encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(lines(text)).toBe(formatTable(table, dm.features()));
  });
});

describe('dm client errors', () => {
  test('a name in use: EBUSY naming the device', async () => {
    await create('t-dup', [new ZeroTarget(sectors(8))]);
    const e = await caught(() => dm.create('t-dup'));
    expect(e).toMatchObject({ code: 'EBUSY', operation: 'create', device: 't-dup', errno: 16 });
    expect(e.message).toMatch(/already exists/);
  });

  test('a missing target type: EINVAL naming the type; createDevice leaves nothing behind', async () => {
    const e = await caught(() => dm.createDevice('t-bogus', '', [{ type: 'nosuchtarget', length: sectors(8), render: () => '' }]));
    expect(e).toMatchObject({ code: 'EINVAL', operation: 'load', device: 't-bogus' });
    expect(e.message).toMatch(/"nosuchtarget" is not loaded/);
    expect(dm.find('t-bogus')).toBeUndefined();
    expect(existsSync('/dev/mapper/t-bogus')).toBe(false);
  });

  test('a segment past the end of its device: the message names the segment', async () => {
    const size = Number(run('blockdev', ['--getsz', disk]).trim());
    const e = await caught(() =>
      dm.createDevice('t-past', '', [new LinearTarget(sectors(8), diskDev, sectors(0)), new LinearTarget(sectors(16), diskDev, sectors(size - 8))]),
    );
    expect(e).toMatchObject({ code: 'EINVAL', operation: 'load' });
    expect(e.message).toMatch(new RegExp(`segment 1 \\(sectors 8\\+16\\) maps ${diskDev.major}:${diskDev.minor} up to sector ${size + 8}, past its end at ${size}`));
    expect(e.message).toMatch(/kernel: "device-mapper: /);
  });

  test('a device removed under us: ENXIO naming it', async () => {
    await create('t-gone', [new ZeroTarget(sectors(8))]);
    dmsetup('remove', 't-gone');
    const e = await caught(() => dm.status('t-gone'));
    expect(e).toMatchObject({ code: 'ENXIO', operation: 'status', device: 't-gone' });
    expect(e.message).toMatch(/no device-mapper device "t-gone"/);
    expect(await caught(() => dm.remove('t-gone'))).toMatchObject({ code: 'ENXIO', operation: 'remove', device: 't-gone' });
    expect(await caught(() => dm.resume('t-gone'))).toMatchObject({ code: 'ENXIO', operation: 'resume', device: 't-gone' });
  });

  test('EBUSY: an open device; a mounted one names the mount; a table over a mounted device', async () => {
    await create('t-open', [new ZeroTarget(sectors(8))]);
    const fd = openSync('/dev/mapper/t-open', 'r');
    const open = await caught(() => dm.remove('t-open', { retries: 2, retryDelayMs: 10 }));
    closeSync(fd);
    expect(open).toMatchObject({ code: 'EBUSY', operation: 'remove', device: 't-open' });
    expect(open.message).toMatch(/open 1 time/);
    await dm.remove('t-open');
    made.splice(made.indexOf('t-open'), 1);
    expect(existsSync('/dev/mapper/t-open')).toBe(false);

    const fsDev = await create('t-fs', [new LinearTarget(sectors(131072), diskDev, sectors(R_FS))]);
    run('mkfs.ext4', ['-q', '-F', '/dev/mapper/t-fs']);
    mkdirSync('/tmp/t-fs', { recursive: true });
    run('mount', ['/dev/mapper/t-fs', '/tmp/t-fs']);
    try {
      const mounted = await caught(() => dm.remove('t-fs'));
      expect(mounted).toMatchObject({ code: 'EBUSY', operation: 'remove', device: 't-fs' });
      expect(mounted.message).toMatch(/mounted: .* on \/tmp\/t-fs/);
      expect(mounted.hint).toMatch(/unmount/);

      const over = await caught(() => dm.createDevice('t-over', '', [new LinearTarget(sectors(8), fsDev, sectors(0))]));
      expect(over).toMatchObject({ code: 'EBUSY', operation: 'load', device: 't-over' });
      expect(over.message).toMatch(new RegExp(`${fsDev.major}:${fsDev.minor} on /tmp/t-fs`));
      expect(dm.find('t-over')).toBeUndefined();
    } finally {
      run('umount', ['/tmp/t-fs']);
    }
  });

  test('suspend with lockfs freezes a mounted ext4 (its data reaches the disk); resume thaws it', async () => {
    mkdirSync('/tmp/t-fs', { recursive: true });
    run('mount', ['/dev/mapper/t-fs', '/tmp/t-fs']);
    try {
      const marker = `snapstore-lockfs-${randomBytes(8).toString('hex')}`;
      writeFileSync('/tmp/t-fs/marker', marker.repeat(64)); // no fsync: only the freeze writes it out
      const s = dm.suspend('t-fs');
      expect(s.suspended).toBe(true);
      expect(dm.info('t-fs').suspended).toBe(true);
      const raw = Buffer.alloc(131072 * 512);
      const fd = openSync(disk, 'r');
      readSync(fd, raw, 0, raw.length, R_FS * 512);
      closeSync(fd);
      expect(raw.includes(marker)).toBe(true);
      const r = dm.resume('t-fs');
      expect(r.suspended).toBe(false);
      writeFileSync('/tmp/t-fs/after', 'writable again');
      // without lockfs, and without flush: the device still suspends and resumes
      expect(dm.suspend('t-fs', { lockfs: false, flush: false }).suspended).toBe(true);
      expect(dm.resume('t-fs').suspended).toBe(false);
    } finally {
      run('umount', ['/tmp/t-fs']);
    }
  });
});
