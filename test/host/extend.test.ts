// `snapstore extend` on the host, against the fake device-mapper and platform:
// the COW device grown in place (its old segments kept, one short suspend of
// the COW device only, the manifest written first), the extension hazard's
// admission (free at create, no exception), refusals that change nothing,
// and an extension cut short caught up by recover and by activate.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatTable } from '../../src/dm/table-text.js';
import { SnapstoreError } from '../../src/errors.js';
import { deviceNumber } from '../../src/linux/device-number.js';
import { activateSnapshots } from '../../src/snapshot/activate.js';
import { createSnapshot } from '../../src/snapshot/create.js';
import { extendSnapshot, keepChunks } from '../../src/snapshot/extend.js';
import { setFaultHandler, SimulatedCrash } from '../../src/snapshot/faults.js';
import { recoverSnapshots } from '../../src/snapshot/recover.js';
import { snapshotStatus } from '../../src/snapshot/status.js';
import { StateDir } from '../../src/state/state-dir.js';
import { readManifest } from '../../src/store/manifest.js';
import { bytes, chunkSize } from '../../src/units/units.js';
import { FakePlatform, ORIGIN_PATH } from '../support/fake-platform.js';

let stateDir: string;
let p: FakePlatform;
const log: string[] = [];
const o = () => ({ stateDir, platform: p, log: (l: string) => log.push(l) });
const MiB = 1 << 20;
const chunk = chunkSize(bytes(4096));
const create = (mode: 'checkpoint' | 'update' = 'checkpoint') =>
  createSnapshot({ ...o(), name: 's', origin: mode === 'update' ? '/dev/vdb' : ORIGIN_PATH, store: '/data/s.store', size: bytes(16 * MiB), chunk, mode });
const cowText = () => formatTable(p.dm.table('snapstore-s-cow'), p.dm.features());
const store = () => readManifest(StateDir.need(stateDir), 's');
const statusOf = () => snapshotStatus({ stateDir, platform: p, name: 's' })[0]!;
const refusal = async (f: () => Promise<unknown>): Promise<SnapstoreError> => {
  const e = await f().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(SnapstoreError);
  return e as SnapstoreError;
};

beforeEach(() => {
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-extend-'));
  p = new FakePlatform();
  p.addPlain('vdb', deviceNumber(254, 16), 1 << 20, '5e1f00d0-02');
  log.length = 0;
});
afterEach(() => {
  setFaultHandler(undefined);
  fs.rmSync(stateDir, { recursive: true, force: true });
});

describe('extend a checkpoint', () => {
  it('grows the COW device in place under one suspend of it alone: the old segments kept, the new one after them, the snapshot sees the size', async () => {
    await create();
    const before = cowText();
    const opsBefore = p.dm.ops.length;
    const r = await extendSnapshot({ ...o(), name: 's', by: bytes(8 * MiB) });
    expect(r).toMatchObject({ before: 16 * MiB, after: 24 * MiB, heldBack: 0, mapGeneration: 1 });
    expect(cowText().startsWith(before)).toBe(true);
    const real = p.dm.info('snapstore-s-real').dev;
    expect(cowText().split('\n').at(-1)).toBe(`32768 16384 linear ${real.major}:${real.minor} ${(512 * MiB) / 512}`);
    const ops = p.dm.ops.slice(opsBefore).filter((l) => /^(suspend|resume|load|create|remove)/.test(l));
    expect(ops).toEqual(['suspend snapstore-s-cow', 'load snapstore-s-cow', 'resume snapstore-s-cow']);
    expect(store()).toMatchObject({ usableBytes: 24 * MiB, fileSize: 24 * MiB, mapGeneration: 1 });
    expect(statusOf().usage?.total).toBe(24 * MiB);
    expect(statusOf().problems).toEqual([]);
    expect(p.reads.freeSpace).toBe(1);
  });

  it('--to grows to a usable size in whole chunks', async () => {
    await create();
    const r = await extendSnapshot({ ...o(), name: 's', to: bytes(20 * MiB + 1) });
    expect(r.after).toBe(20 * MiB + 4096);
  });

  it('leaves out every new chunk that was not free at create or has an exception (the extension hazard), and says how much', async () => {
    await create();
    const at = 512 * MiB;
    // Used at create: the first MiB of the new blocks; one exception (written since) in the middle.
    p.freeAtCreate = { starts: Float64Array.of(at + MiB), ends: Float64Array.of(at + 64 * MiB), bytes: bytes(63 * MiB) };
    p.excepted.add((at + 4 * MiB) / 4096);
    const r = await extendSnapshot({ ...o(), name: 's', by: bytes(8 * MiB) });
    expect(r.heldBack).toBe(MiB + 4096);
    expect(r.after).toBe(16 * MiB + 7 * MiB - 4096);
    const real = p.dm.info('snapstore-s-real').dev;
    const added = store().segments.slice(4).map((s) => [s.physical, s.length]);
    expect(added).toEqual([
      [at + MiB, 3 * MiB],
      [at + 4 * MiB + 4096, 4 * MiB - 4096],
    ]);
    expect(cowText()).toContain(`linear ${real.major}:${real.minor} ${(at + MiB) / 512}`);
    expect(r.message).toMatch(/held back/);
  });

  it('keepChunks splits segments into runs of admitted chunks, in file order', () => {
    const seg = { storeOffset: bytes(0), fileOffset: bytes(8192), physical: bytes(40960), length: bytes(5 * 4096) };
    const kept = keepChunks([seg], chunk, (p) => p !== 40960 + 2 * 4096);
    expect(kept.map((s) => [s.fileOffset, s.physical, s.length])).toEqual([
      [8192, 40960, 8192],
      [8192 + 3 * 4096, 40960 + 3 * 4096, 8192],
    ]);
  });

  it('with the test-only switch set, admits every new block unchecked (and says so)', async () => {
    await create();
    p.freeAtCreate = { starts: new Float64Array(), ends: new Float64Array(), bytes: bytes(0) };
    process.env['SNAPSTORE_TEST_NO_HAZARD_CHECK'] = '1';
    try {
      const r = await extendSnapshot({ ...o(), name: 's', by: bytes(4 * MiB) });
      expect(r.heldBack).toBe(0);
      expect(log.join('\n')).toMatch(/unchecked/);
    } finally {
      delete process.env['SNAPSTORE_TEST_NO_HAZARD_CHECK'];
    }
  });
});

describe('refusals change nothing', () => {
  it.each([
    ['neither --by nor --to', {}, 'USAGE'],
    ['both', { by: bytes(MiB), to: bytes(32 * MiB) }, 'USAGE'],
    ['--to below the size', { to: bytes(8 * MiB) }, 'BAD_SIZE'],
  ])('%s', async (_what, size, code) => {
    await create();
    const cow = cowText();
    const e = await refusal(() => extendSnapshot({ ...o(), name: 's', ...size }));
    expect(e.code).toBe(code);
    expect(cowText()).toBe(cow);
    expect(store().mapGeneration).toBeUndefined();
  });

  it('no room while keeping --keep-free: ENOSPC naming the reserve; nothing grown', async () => {
    await create();
    p.space.available = 100 * MiB;
    const e = await refusal(() => extendSnapshot({ ...o(), name: 's', by: bytes(64 * MiB), keepFree: { bytes: bytes(64 * MiB) } }));
    expect(e.code).toBe('ENOSPC');
    expect(store().usableBytes).toBe(16 * MiB);
    expect(p.extending.size).toBe(0);
  });

  it('a snapshot that is not live (after a reboot, before activate) or Invalid is not grown', async () => {
    await create();
    p.dm.setStatus('snapstore-s-snap', 'Invalid');
    expect((await refusal(() => extendSnapshot({ ...o(), name: 's', by: bytes(MiB) }))).message).toMatch(/invalid.*brings nothing back/);
    p.reboot();
    expect((await refusal(() => extendSnapshot({ ...o(), name: 's', by: bytes(MiB) }))).message).toMatch(/not live.*/);
    expect(store().usableBytes).toBe(16 * MiB);
  });
});

describe('update mode', () => {
  it("grows the store of an update's snapshot: no hazard check (its store is on another filesystem)", async () => {
    p.storeFsDm = 'data';
    await create('update');
    const r = await extendSnapshot({ ...o(), name: 's', by: bytes(8 * MiB) });
    expect(r.after).toBe(24 * MiB);
    expect(p.reads.freeSpace).toBe(0);
    expect(statusOf().usage?.total).toBe(24 * MiB);
  });
});

describe('an extension cut short', () => {
  const crashAt = async (label: string) => {
    setFaultHandler((l) => {
      if (l === label) throw new SimulatedCrash(l);
    });
    await extendSnapshot({ ...o(), name: 's', by: bytes(8 * MiB) }).catch((e: unknown) => {
      if (!(e instanceof SimulatedCrash)) throw e;
    });
    setFaultHandler(undefined);
  };

  it('after the file grew, before the map was written: recover cuts the file back; the COW is unchanged', async () => {
    await create();
    const cow = cowText();
    await crashAt('store:file grown');
    expect(p.extending.has('s')).toBe(true);
    const r = await recoverSnapshots(o());
    expect(r.actions.join('\n')).toMatch(/interrupted extension undone/);
    expect(p.extending.size).toBe(0);
    expect(cowText()).toBe(cow);
    expect(statusOf().problems).toEqual([]);
  });

  it('after the map was written, before the reload: status says so, recover grows the COW; after a reboot activate builds it grown', async () => {
    await create();
    await crashAt('store:manifest grown');
    expect(statusOf().problems.join('\n')).toMatch(/an extension has not finished\): `snapstore recover`/);
    // The same, seen while another command holds the state lock (the watcher in the middle of
    // its extension): the step in progress, not a problem.
    const holder = spawn('flock', ['-x', '-o', path.join(stateDir, 'lock'), '-c', 'echo held; exec sleep 60'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((resolve) => holder.stdout.once('data', resolve));
      const busy = statusOf();
      expect(busy.problems).toEqual([]);
      expect(busy.agrees).toBe(true);
      expect(busy.busy?.pid).toBe(holder.pid);
      expect(busy.busy?.unsettled.join('\n')).toMatch(/an extension has not finished\)$/);
    } finally {
      holder.kill();
      await new Promise((resolve) => holder.once('exit', resolve));
      fs.rmSync(path.join(stateDir, 'lock'), { force: true });
    }
    expect(statusOf().busy).toBeNull();
    expect(statusOf().problems.join('\n')).toMatch(/an extension has not finished\): `snapstore recover`/);
    const r = await recoverSnapshots(o());
    expect(r.actions.join('\n')).toMatch(/grew snapstore-s-cow/);
    expect(statusOf().usage?.total).toBe(24 * MiB);
    expect((await recoverSnapshots(o())).actions).toEqual([]);

    await crashAt('before:dm.load snapstore-s-cow');
    expect(statusOf().problems.join('\n')).toMatch(/an extension has not finished\): `snapstore recover`/);
    p.reboot();
    await activateSnapshots(o());
    expect(statusOf().usage?.total).toBe(32 * MiB);
    expect(statusOf().problems).toEqual([]);
  });
});
