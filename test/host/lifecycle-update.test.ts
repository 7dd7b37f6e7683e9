// Update mode and the offline merges on the host, against the fake
// device-mapper and platform: the update written into `snapstore-NAME` over
// an origin nothing uses (a plain partition here), commit = merge (the
// kernel's, in place while the system runs from it, or ours offline),
// rollback = drop (pending while in use), and the hand-over between the two
// merges. The real kernel: test/kernel/lifecycle-*.guest.ts.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatTable } from '../../src/dm/table-text.js';
import { deviceNumber } from '../../src/linux/device-number.js';
import { activateSnapshots } from '../../src/snapshot/activate.js';
import { commitSnapshot, discardSnapshot } from '../../src/snapshot/commit.js';
import { createSnapshot, type CreateSnapshotOptions } from '../../src/snapshot/create.js';
import { setFaultHandler, SimulatedCrash } from '../../src/snapshot/faults.js';
import { readSnapshot } from '../../src/snapshot/manifest.js';
import { recoverSnapshots } from '../../src/snapshot/recover.js';
import { rollbackSnapshot } from '../../src/snapshot/rollback.js';
import { snapshotStatus } from '../../src/snapshot/status.js';
import { StateDir } from '../../src/state/state-dir.js';
import { findManifest } from '../../src/store/manifest.js';
import { bytes, chunkSize, sectors } from '../../src/units/units.js';
import { LinearTarget } from '../../src/dm/targets.js';
import { FakePlatform, ORIGIN, ORIGIN_PATH, ORIGIN_TABLE } from '../support/fake-platform.js';

const VDB = deviceNumber(254, 16);
const VDB_SECTORS = 1 << 20;
let stateDir: string;
let p: FakePlatform;
const log: string[] = [];
const opts = () => ({ stateDir, platform: p, log: (l: string) => log.push(l) });
const base = (): CreateSnapshotOptions => ({
  ...opts(),
  name: 'up1',
  origin: '/dev/vdb',
  store: '/data/.snapstore/up1.store',
  size: bytes(16 << 20),
  chunk: chunkSize(bytes(4096)),
  mode: 'update',
});
const ours = () => p.dm.names().filter((n) => n.startsWith('snapstore-'));
const tableOf = (name: string) => formatTable(p.dm.table(name), p.dm.features());
const manifest = (name = 'up1') => readSnapshot(StateDir.need(stateDir), name);
const cowDev = () => p.dm.info('snapstore-up1-cow').dev;

beforeEach(() => {
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-update-'));
  p = new FakePlatform();
  p.addPlain('vdb', VDB, VDB_SECTORS, '5e1f00d0-02');
  p.mountOrigin('/data'); // the store's filesystem, another one than the origin
  log.length = 0;
});
afterEach(() => fs.rmSync(stateDir, { recursive: true, force: true }));

describe('update mode: create', () => {
  it('makes snapstore-NAME, a snapshot of the origin over the store, and leaves the origin alone', async () => {
    const r = await createSnapshot(base());
    expect(r.manifest?.state).toBe('active');
    expect(ours()).toEqual(['snapstore-up1', 'snapstore-up1-cow']);
    expect(tableOf('snapstore-up1')).toBe(`0 ${VDB_SECTORS} snapshot 254:16 ${cowDev().major}:${cowDev().minor} P 8`);
    // The store is on another filesystem (data): its cow is mapped through data's table onto the disk below.
    expect(tableOf('snapstore-up1-cow')).toMatch(/^0 8192 linear 254:0 /);
    expect(p.dm.ops.filter((o) => /^(suspend|load) data/.test(o))).toEqual(['load data']); // data's own boot-time load, nothing since
    expect(manifest().origin).toEqual({ kernelName: 'vdb', partUuid: '5e1f00d0-02', dmUuid: '', fsUuid: expect.any(String), sectors: VDB_SECTORS });
    expect(log.join('\n')).toMatch(/write the update into \/dev\/mapper\/snapstore-up1/);
  });

  it('--dry-run names the two devices and their tables, changing nothing', async () => {
    const r = await createSnapshot({ ...base(), dryRun: true });
    expect(r.plan.tables.map((t) => t.device)).toEqual(['snapstore-up1-cow', 'snapstore-up1']);
    expect(r.plan.steps.join('\n')).toMatch(/\/dev\/vdb itself is not touched/);
    expect(ours()).toEqual([]);
    expect(fs.readdirSync(stateDir)).toEqual([]);
  });

  const refusals: [string, () => void, Partial<CreateSnapshotOptions>, RegExp, string][] = [
    ['the origin mounted', () => p.mountPlain('vdb', '/mnt'), {}, /\/dev\/vdb is mounted at \/mnt: update mode/, 'ORIGIN_BUSY'],
    ['the origin held by a dm device', () => void p.dm.createDeviceNow('other', [new LinearTarget(sectors(8), VDB, sectors(0))]), {}, /is held by other/, 'ORIGIN_BUSY'],
    ['a dm origin that is open', () => p.dm.open(ORIGIN), { origin: ORIGIN_PATH }, /is mounted at \/data|is open/, 'ORIGIN_BUSY'],
    ['a name like one of our devices', () => {}, { name: 'x-cow' }, /ends like the name of one of a snapshot's devices/, 'BAD_NAME'],
  ];
  it.each(refusals)('refuses %s, changing nothing', async (_what, arrange, change, why, code) => {
    arrange();
    const before = p.dm.names();
    await expect(createSnapshot({ ...base(), ...change })).rejects.toMatchObject({ code, message: expect.stringMatching(why) });
    expect(p.dm.names()).toEqual(before);
    expect(fs.readdirSync(stateDir)).toEqual([]);
  });

  it('refuses a store on a filesystem that has a live checkpoint (its blocks would be new under it), changing nothing', async () => {
    await createSnapshot({ ...base(), name: 'c1', origin: ORIGIN_PATH, mode: 'checkpoint', store: '/data/.snapstore/c1.store' });
    p.stateDirDevice = p.originDev(); // the fake's filesystem of every path: data, carrying the checkpoint now
    const before = p.dm.names();
    await expect(createSnapshot(base())).rejects.toMatchObject({ code: 'STACK_UNSUPPORTED', message: expect.stringMatching(/carries a snapshot-origin target/) });
    expect(p.dm.names()).toEqual(before);
    expect(fs.existsSync(path.join(stateDir, 'snapshots', 'up1.json'))).toBe(false);
  });
});

describe('update mode: activate after the reboot', () => {
  it('builds snapstore-NAME again over the origin found by its partition UUID; a second activate changes nothing', async () => {
    await createSnapshot(base());
    const cowTable = tableOf('snapstore-up1-cow');
    p.reboot();
    const [r] = await activateSnapshots(opts());
    expect(r).toMatchObject({ action: 'activated' });
    expect(tableOf('snapstore-up1-cow')).toBe(cowTable);
    expect(tableOf('snapstore-up1')).toBe(`0 ${VDB_SECTORS} snapshot 254:16 ${cowDev().major}:${cowDev().minor} P 8`);
    const [again] = await activateSnapshots(opts());
    expect(again).toMatchObject({ action: 'already-active' });
  });

  it('refuses an origin that is another device now (its size changed), and one mounted before activate', async () => {
    await createSnapshot(base());
    p.reboot();
    p.plain.get('vdb')!.sectors = VDB_SECTORS / 2;
    await expect(activateSnapshots(opts())).rejects.toMatchObject({ code: 'ORIGIN_CHANGED', message: expect.stringMatching(/it is another device/) });
    p.plain.get('vdb')!.sectors = VDB_SECTORS;
    p.mountPlain('vdb', '/mnt');
    await expect(activateSnapshots(opts())).rejects.toMatchObject({ code: 'ORIGIN_BUSY' });
    expect(ours()).toEqual([]);
  });
});

describe('update mode: commit merges the update into the origin', () => {
  it('while the system runs from snapstore-NAME: snapshot-merge is loaded in place under one suspend; once merged it stays a passthrough until closed', async () => {
    await createSnapshot(base());
    p.dm.open('snapstore-up1'); // mounted by the system
    p.dm.statusOnLive.set('snapstore-up1', '4096/32768 16');
    const r = await commitSnapshot({ ...opts(), name: 'up1' });
    expect(r.outcome).toBe('merging');
    expect(manifest()).toMatchObject({ state: 'merging', mergeOwner: 'kernel' });
    expect(tableOf('snapstore-up1')).toMatch(/ snapshot-merge 254:16 /);
    expect(p.dm.ops.filter((o) => /^(suspend|load|resume|create|remove) snapstore-up1$/.test(o)).slice(-3)).toEqual(['suspend snapstore-up1', 'load snapstore-up1', 'resume snapstore-up1']);
    expect(snapshotStatus({ stateDir, platform: p, name: 'up1' })[0]).toMatchObject({ state: 'merging', agrees: true, snapshotDevice: '/dev/mapper/snapstore-up1' });
    // A rollback now would undo half a merge: refused.
    await expect(rollbackSnapshot({ ...opts(), name: 'up1' })).rejects.toMatchObject({ code: 'BAD_STATE', message: expect.stringMatching(/being committed/) });
    p.dm.setStatus('snapstore-up1', '16/32768 16');
    const done = await commitSnapshot({ ...opts(), name: 'up1' });
    expect(done.outcome).toBe('committed');
    expect(tableOf('snapstore-up1')).toBe(`0 ${VDB_SECTORS} linear 254:16 0`);
    expect(ours()).toEqual(['snapstore-up1']);
    expect(findManifest(StateDir.need(stateDir), 'up1')).toBeUndefined();
    expect(manifest().state).toBe('committed');
    expect((await commitSnapshot({ ...opts(), name: 'up1' })).outcome).toBe('already');
  });

  it('after a reboot, before activate: snapstore-NAME is made with snapshot-merge at once; --wait waits for the kernel', async () => {
    await createSnapshot(base());
    p.reboot();
    p.dm.statusOnLive.set('snapstore-up1', '16/32768 16');
    const r = await commitSnapshot({ ...opts(), name: 'up1', wait: true });
    expect(r.outcome).toBe('committed');
    expect(ours()).toEqual([]);
    expect(manifest().history.map((h) => h.state)).toEqual(['creating', 'active', 'merging', 'merging', 'committed']);
  });

  it('a merge still running at a reboot goes on at activate', async () => {
    await createSnapshot(base());
    p.dm.statusOnLive.set('snapstore-up1', '4096/32768 16');
    expect((await commitSnapshot({ ...opts(), name: 'up1' })).outcome).toBe('merging');
    p.reboot();
    p.dm.statusOnLive.set('snapstore-up1', '2048/32768 16');
    const [r] = await activateSnapshots(opts());
    expect(r).toMatchObject({ action: 'merging' });
    expect(tableOf('snapstore-up1')).toMatch(/ snapshot-merge /);
  });

  it('an Invalid update is never committed', async () => {
    await createSnapshot(base());
    p.dm.setStatus('snapstore-up1', 'Invalid');
    await expect(commitSnapshot({ ...opts(), name: 'up1' })).rejects.toMatchObject({ code: 'SNAPSHOT_INVALID', message: expect.stringMatching(/the update in it is incomplete/) });
    expect(manifest()).toMatchObject({ state: 'active', invalid: true });
    expect(tableOf('snapstore-up1')).toMatch(/ snapshot 254:16 /);
    await rollbackSnapshot({ ...opts(), name: 'up1' });
    expect(manifest().state).toBe('rolled-back');
  });

  it('--offline: the devices go, our merge writes the origin, the store is deleted; refused while snapstore-NAME is in use', async () => {
    await createSnapshot(base());
    p.dm.open('snapstore-up1');
    await expect(commitSnapshot({ ...opts(), name: 'up1', offline: true })).rejects.toMatchObject({ code: 'DEVICE_BUSY' });
    expect(manifest().state).toBe('active');
    p.dm.open('snapstore-up1', -1);
    const r = await commitSnapshot({ ...opts(), name: 'up1', offline: true });
    expect(r).toMatchObject({ outcome: 'committed' });
    expect(p.offlineMerges).toEqual([{ store: 'up1', origin: '254:16' }]);
    expect(ours()).toEqual([]);
    expect(manifest()).toMatchObject({ state: 'committed', mergeOwner: 'offline', mergeDone: true });
  });
});

describe('update mode: rollback drops the update', () => {
  it('at once when snapstore-NAME is not in use: the origin was never written', async () => {
    await createSnapshot(base());
    const r = await rollbackSnapshot({ ...opts(), name: 'up1' });
    expect(r.outcome).toBe('rolled-back');
    expect(ours()).toEqual([]);
    expect(p.offlineMerges).toEqual([]);
    expect(findManifest(StateDir.need(stateDir), 'up1')).toBeUndefined();
    expect((await rollbackSnapshot({ ...opts(), name: 'up1' })).outcome).toBe('already-rolled-back');
  });

  it('while the system runs from it: pending, and done by the next activate before anything mounts it', async () => {
    await createSnapshot(base());
    p.dm.open('snapstore-up1');
    expect((await rollbackSnapshot({ ...opts(), name: 'up1' })).outcome).toBe('pending');
    expect(manifest().state).toBe('rollback-pending');
    await expect(discardSnapshot({ ...opts(), name: 'up1' })).rejects.toMatchObject({ code: 'DEVICE_BUSY' });
    p.reboot();
    const [r] = await activateSnapshots(opts());
    expect(r).toMatchObject({ action: 'finished' });
    expect(r!.message).toMatch(/holds the old contents, untouched; mount it, not snapstore-up1/);
    expect(ours()).toEqual([]);
    expect(manifest().state).toBe('rolled-back');
  });

  it('--offline is refused: an update is rolled back by dropping it, nothing is merged', async () => {
    await createSnapshot(base());
    await expect(rollbackSnapshot({ ...opts(), name: 'up1', offline: true })).rejects.toMatchObject({ code: 'BAD_VALUE' });
    expect(manifest().state).toBe('active');
  });
});

describe('checkpoint: rollback --offline, and the two merges handing over', () => {
  const checkpoint = (): CreateSnapshotOptions => ({ ...base(), origin: ORIGIN_PATH, mode: 'checkpoint' });
  const own = () => formatTable(ORIGIN_TABLE, p.dm.features());

  it('refused while the origin is mounted, nothing changed; unmounted, the stack goes and our merge writes the origin', async () => {
    p.mountOrigin(undefined);
    await createSnapshot(checkpoint());
    p.mountOrigin('/data');
    await expect(rollbackSnapshot({ ...opts(), name: 'up1', offline: true })).rejects.toMatchObject({ code: 'DEVICE_IN_USE', message: expect.stringMatching(/mounted at \/data/) });
    expect(manifest().state).toBe('active');
    p.mountOrigin(undefined);
    const r = await rollbackSnapshot({ ...opts(), name: 'up1', offline: true });
    expect(r.outcome).toBe('rolled-back');
    expect(tableOf(ORIGIN)).toBe(own());
    expect(ours()).toEqual([]);
    expect(p.offlineMerges).toEqual([{ store: 'up1', origin: '253:0' }]);
    expect(manifest()).toMatchObject({ state: 'rolled-back', mergeOwner: 'offline' });
  });

  it('a merge the kernel began is finished offline', async () => {
    p.mountOrigin(undefined);
    await createSnapshot(checkpoint());
    p.dm.statusOnLive.set(ORIGIN, '4096/32768 16');
    expect((await rollbackSnapshot({ ...opts(), name: 'up1' })).outcome).toBe('merging');
    expect(tableOf(ORIGIN)).toMatch(/snapshot-merge/);
    const r = await rollbackSnapshot({ ...opts(), name: 'up1', offline: true });
    expect(r.outcome).toBe('rolled-back');
    expect(tableOf(ORIGIN)).toBe(own());
    expect(manifest().history.map((h) => h.note).join('\n')).toMatch(/the merge the kernel began is finished offline/);
  });

  it('an offline merge cut short is taken over by the kernel: at activate, or by a rollback without --offline', async () => {
    p.mountOrigin(undefined);
    await createSnapshot(checkpoint());
    setFaultHandler((l) => {
      if (l === 'before:offline merge') throw new SimulatedCrash(l);
    });
    await expect(rollbackSnapshot({ ...opts(), name: 'up1', offline: true })).rejects.toBeInstanceOf(SimulatedCrash);
    setFaultHandler(undefined);
    expect(manifest()).toMatchObject({ state: 'merging', mergeOwner: 'offline' });
    // recover says how it goes on, and leaves it to the merges.
    expect((await recoverSnapshots(opts())).notes.join('\n')).toMatch(/did not finish: `snapstore rollback up1 --offline` finishes it/);
    // A rollback without --offline hands it to the kernel and builds the merge now (the origin is unmounted).
    p.dm.statusOnLive.set(ORIGIN, '4096/32768 16');
    expect((await rollbackSnapshot({ ...opts(), name: 'up1' })).outcome).toBe('merging');
    expect(manifest().mergeOwner).toBe('kernel');
    expect(tableOf(ORIGIN)).toMatch(/snapshot-merge/);

    // The same cut, then a reboot: activate gives it to the kernel.
    p.reboot();
    const m = manifest();
    fs.writeFileSync(path.join(stateDir, 'snapshots', 'up1.json'), JSON.stringify({ ...m, mergeOwner: 'offline' }), { mode: 0o600 });
    p.dm.statusOnLive.set(ORIGIN, '4096/32768 16');
    const [r] = await activateSnapshots(opts());
    expect(r).toMatchObject({ action: 'merging' });
    expect(manifest().mergeOwner).toBe('kernel');
    expect(log.join('\n')).toMatch(/the kernel's merge takes it over/);
  });

  it('commit --offline of a checkpoint is refused (a checkpoint commit merges nothing)', async () => {
    await createSnapshot(checkpoint());
    await expect(commitSnapshot({ ...opts(), name: 'up1', offline: true })).rejects.toMatchObject({ code: 'BAD_VALUE', message: expect.stringMatching(/merges nothing/) });
  });
});
