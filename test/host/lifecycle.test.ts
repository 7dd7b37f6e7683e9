// The checkpoint lifecycle's state machine on the host, against the fake
// device-mapper and platform (test/support): every transition and refusal,
// the order of the dm calls that matters (docs/design.md "Order of
// loading"), what is left after a failure, and idempotent reruns; create's
// warning of an update agent's record on the origin.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatTable } from '../../src/dm/table-text.js';
import { SnapstoreError } from '../../src/errors.js';
import { OtherTarget } from '../../src/dm/targets.js';
import { ERRNO } from '../../src/linux/errno.js';
import { deviceNumber } from '../../src/linux/device-number.js';
import { activateSnapshots } from '../../src/snapshot/activate.js';
import { commitSnapshot, discardSnapshot } from '../../src/snapshot/commit.js';
import { createSnapshot, type CreateSnapshotOptions } from '../../src/snapshot/create.js';
import { readSnapshot } from '../../src/snapshot/manifest.js';
import { recoverSnapshots } from '../../src/snapshot/recover.js';
import { rollbackSnapshot } from '../../src/snapshot/rollback.js';
import { snapshotStatus } from '../../src/snapshot/status.js';
import { StateDir } from '../../src/state/state-dir.js';
import { withStateLock } from '../../src/state/lock.js';
import { findManifest } from '../../src/store/manifest.js';
import { bytes, chunkSize } from '../../src/units/units.js';
import { FakePlatform, ORIGIN, ORIGIN_PATH, ORIGIN_TABLE } from '../support/fake-platform.js';

let stateDir: string;
let p: FakePlatform;
const log: string[] = [];
const base = (): CreateSnapshotOptions => ({
  stateDir,
  platform: p,
  log: (l) => log.push(l),
  name: 'up1',
  origin: ORIGIN_PATH,
  store: '/data/.snapstore/up1.store',
  size: bytes(16 << 20),
  chunk: chunkSize(bytes(4096)),
  mode: 'checkpoint',
});
const opts = () => ({ stateDir, platform: p, log: (l: string) => log.push(l) });
const originText = () => formatTable(p.dm.table(ORIGIN), p.dm.features());
const ownText = formatTable(ORIGIN_TABLE, new FakePlatform().dm.features());
const ours = () => p.dm.names().filter((n) => n.startsWith('snapstore-'));
const state = (name = 'up1') => readSnapshot(StateDir.need(stateDir), name).state;

beforeEach(() => {
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-life-'));
  p = new FakePlatform();
  log.length = 0;
});
afterEach(() => fs.rmSync(stateDir, { recursive: true, force: true }));

describe('create', () => {
  it('moves the origin\'s table to real, maps the store as cow, and attaches the snapshot under one suspend, resuming the origin last', async () => {
    const r = await createSnapshot(base());
    expect(r.manifest?.state).toBe('active');
    expect(ours()).toEqual(['snapstore-up1-cow', 'snapstore-up1-real', 'snapstore-up1-snap']);
    expect(formatTable(p.dm.table('snapstore-up1-real'), p.dm.features())).toBe(ownText);
    const real = p.dm.info('snapstore-up1-real').dev;
    expect(originText()).toBe(`0 2097152 snapshot-origin ${real.major}:${real.minor}`);
    // The cow maps the store's four pieces onto real at their offsets on the origin.
    expect(formatTable(p.dm.table('snapstore-up1-cow'), p.dm.features()).split('\n')).toEqual([
      `0 8192 linear ${real.major}:${real.minor} 180224`,
      `8192 8192 linear ${real.major}:${real.minor} 131072`,
      `16384 8192 linear ${real.major}:${real.minor} 163840`,
      `24576 8192 linear ${real.major}:${real.minor} 147456`,
    ]);
    const ops = p.dm.ops.filter((o) => /^(suspend|resume|load|create) (data|snapstore-up1-snap)/.test(o));
    expect(ops.slice(-6)).toEqual(['suspend data', 'load data', 'create snapstore-up1-snap', 'load snapstore-up1-snap', 'resume snapstore-up1-snap', 'resume data']);
    expect(p.dm.anySuspended()).toEqual([]);
    const m = readSnapshot(StateDir.need(stateDir), 'up1');
    expect(m.history.map((h) => h.state)).toEqual(['creating', 'active']);
    expect(m.origin).toMatchObject({ dmName: 'data', sectors: 2097152 });
    expect(findManifest(StateDir.need(stateDir), 'up1')).toBeDefined();
  });

  it('--dry-run prints every table and step and changes nothing, not even the state directory', async () => {
    fs.rmdirSync(stateDir);
    const r = await createSnapshot({ ...base(), dryRun: true });
    expect(r.manifest).toBeUndefined();
    expect(r.plan.steps.join('\n')).toMatch(/suspend data.*\n.*snapshot-origin.*\n.*create snapstore-up1-snap/s);
    expect(r.plan.tables.map((t) => t.device)).toEqual(['snapstore-up1-real', 'snapstore-up1-cow', 'snapstore-up1-snap', 'data']);
    expect(fs.existsSync(stateDir)).toBe(false);
    expect(ours()).toEqual([]);
    expect(p.dm.ops.filter((o) => /^(create|load|suspend|resume|remove)/.test(o))).toEqual(['create data', 'load data', 'resume data']);
  });

  const refusals: [string, () => void, Partial<CreateSnapshotOptions>, RegExp, string][] = [
    ['a plain partition', () => {}, { origin: '/dev/vda' }, /plain disk or partition.*nothing can be put beneath it/, 'ORIGIN_UNSUPPORTED'],
    ['a path that is no device', () => {}, { origin: '/dev/nope' }, /not a block device/, 'ORIGIN_UNSUPPORTED'],
    ['a bad name', () => {}, { name: '../x' }, /not allowed/, 'BAD_NAME'],
    ['a mode that is neither', () => {}, { mode: 'snapshot' as never }, /not checkpoint or update/, 'BAD_VALUE'],
    ['a state directory on the origin', () => (p.stateDirDevice = p.originDev()), {}, /on data, the filesystem being snapshotted/, 'STATE_ON_ORIGIN'],
    [
      'dm-crypt with its key in the keyring',
      () => {
        void p.dm.remove('data');
        p.paths.set(ORIGIN_PATH, p.dm.createDeviceNow('data', [new OtherTarget('crypt', 1048576 as never, 'aes-xts-plain64 :64:logon:cryptsetup:0b5a-d0 0 254:0 32768')]));
      },
      {},
      /kernel keyring.*cannot be loaded into another device.*above the crypt layer/s,
      'ORIGIN_UNSUPPORTED',
    ],
  ];
  it.each(refusals)('refuses %s, changing nothing', async (_what, arrange, change, why, code) => {
    arrange();
    const before = p.dm.names();
    await expect(createSnapshot({ ...base(), ...change })).rejects.toMatchObject({ code, message: expect.stringMatching(why) });
    expect(p.dm.names()).toEqual(before);
    expect(fs.readdirSync(stateDir)).toEqual([]);
  });

  it('a create the store layer refuses leaves no state directory, no record, no device', async () => {
    fs.rmdirSync(stateDir);
    p.storeRefusal = new SnapstoreError('ENOSPC', 'the filesystem of /data has 10 MiB available, less than the 16 MiB store; nothing was created');
    await expect(createSnapshot(base())).rejects.toMatchObject({ code: 'ENOSPC', message: expect.stringMatching(/nothing was left behind/) });
    expect(fs.existsSync(stateDir)).toBe(false);
    expect(ours()).toEqual([]);
    expect(originText()).toBe(ownText);
  });

  it('refuses an origin that already has a snapshot, and a second snapshot of the same name', async () => {
    await createSnapshot(base());
    await expect(createSnapshot(base())).rejects.toMatchObject({ code: 'SNAPSHOT_EXISTS' });
    await expect(createSnapshot({ ...base(), name: 'up2' })).rejects.toMatchObject({ code: 'ORIGIN_UNSUPPORTED', message: expect.stringMatching(/already carries a snapshot-origin/) });
  });

  it.each([
    ['the origin\'s table load', 'load', 'data'],
    ['the snapshot\'s creation', 'create', 'snapstore-up1-snap'],
    ['the origin\'s resume', 'resume', 'data'],
    ['the cow device', 'create', 'snapstore-up1-cow'],
  ] as const)('a failure at %s undoes everything: origin back on its own table and resumed, no devices, no store, no record', async (_what, op, name) => {
    p.dm.failNext(op, ERRNO.EINVAL, name);
    const err = await createSnapshot(base()).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/nothing was left behind/);
    expect(originText()).toBe(ownText);
    expect(p.dm.anySuspended()).toEqual([]);
    expect(ours()).toEqual([]);
    const dir = StateDir.need(stateDir);
    expect(findManifest(dir, 'up1')).toBeUndefined();
    expect(fs.existsSync(path.join(stateDir, 'snapshots', 'up1.json'))).toBe(false);
  });
});

describe('create: an update agent\'s record on the origin (snapshot/update-agents.ts)', () => {
  // A folder made here stands for the data filesystem's mount point: the fake puts
  // what is under it on the origin, and a record not made yet is judged by its
  // nearest folder, as on a real system.
  let data: string;
  beforeEach(() => {
    data = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-agents-data-'));
    fs.mkdirSync(`${data}/rauc`);
    p.originPaths = [data];
  });
  afterEach(() => fs.rmSync(data, { recursive: true, force: true }));

  it('RAUC\'s data-directory on the origin: the checkpoint is made, with a warning naming it, why, and the way out', async () => {
    p.agents = { states: [{ agent: 'RAUC', path: `${data}/rauc` }, { agent: 'Mender', path: '/var/lib/mender' }], offFilesystem: [] };
    const r = await createSnapshot(base());
    expect(r.manifest?.state).toBe('active');
    expect(r.warnings).toEqual([
      {
        message: `RAUC's state (${data}/rauc) is on data's filesystem: a rollback of it rolls back the agent's own record of the update too (it would see the update as never made, or still pending)`,
        hint: expect.stringMatching(/^keep the agent's state on a filesystem no checkpoint rolls back, or have the agent record the outcome again after a rollback/),
      },
    ]);
  });

  it('a record not made yet (Mender\'s folder before its first update) counts by the folder it would be made in', async () => {
    p.agents = { states: [{ agent: 'Mender', path: `${data}/mender` }], offFilesystem: [] };
    const r = await createSnapshot({ ...base(), dryRun: true });
    expect(r.warnings.map((w) => w.message)).toEqual([`Mender's state (${data}/mender) is on data's filesystem: a rollback of it rolls back the agent's own record of the update too (it would see the update as never made, or still pending)`]);
  });

  it('two agents on the origin: one warning naming both', async () => {
    p.agents = { states: [{ agent: 'Mender', path: `${data}/mender` }, { agent: 'RAUC', path: `${data}/rauc.status` }], offFilesystem: ['SWUpdate'] };
    const r = await createSnapshot(base());
    expect(r.warnings.map((w) => w.message)).toEqual([`Mender's state (${data}/mender) and RAUC's state (${data}/rauc.status) are on data's filesystem: a rollback of it rolls back the agent's own record of the update too (it would see the update as never made, or still pending)`]);
  });

  it('records elsewhere, or in the bootloader\'s environment (SWUpdate): no warning', async () => {
    p.agents = { states: [{ agent: 'RAUC', path: '/var/lib/rauc' }], offFilesystem: ['SWUpdate'] };
    expect((await createSnapshot(base())).warnings).toEqual([]);
  });
});

describe('commit and discard', () => {
  it('commit drops the snapshot, keeps the origin as it is, deletes the store; a rerun says it is done', async () => {
    await createSnapshot(base());
    const r = await commitSnapshot({ ...opts(), name: 'up1' });
    expect(r.outcome).toBe('committed');
    expect(originText()).toBe(ownText);
    expect(ours()).toEqual([]);
    expect(findManifest(StateDir.need(stateDir), 'up1')).toBeUndefined();
    expect(state()).toBe('committed');
    expect((await commitSnapshot({ ...opts(), name: 'up1' })).outcome).toBe('already');
    await expect(rollbackSnapshot({ ...opts(), name: 'up1' })).rejects.toMatchObject({ code: 'BAD_STATE' });
    // A finished snapshot's name can be used again.
    expect((await createSnapshot(base())).manifest?.state).toBe('active');
  });

  it('commit after a reboot (nothing in the kernel) deletes the store; with the store\'s filesystem away, it waits for it', async () => {
    await createSnapshot(base());
    p.reboot();
    p.storeFsMounted = false;
    const r = await commitSnapshot({ ...opts(), name: 'up1' });
    expect(r).toMatchObject({ outcome: 'committed', storePending: true });
    expect(findManifest(StateDir.need(stateDir), 'up1')).toBeDefined();
    p.storeFsMounted = true;
    const rec = await recoverSnapshots(opts());
    expect(rec.actions.join('\n')).toMatch(/deleted the store of "up1"/);
    expect(findManifest(StateDir.need(stateDir), 'up1')).toBeUndefined();
    expect((await recoverSnapshots(opts())).actions).toEqual([]);
  });

  it('refuses while the snapshot device is open (a diff reads it), before anything is written', async () => {
    await createSnapshot(base());
    p.dm.open('snapstore-up1-snap');
    for (const drop of [commitSnapshot, discardSnapshot]) {
      await expect(drop({ ...opts(), name: 'up1' })).rejects.toMatchObject({ code: 'DEVICE_BUSY', message: expect.stringMatching(/snapstore-up1-snap is open .*snapstore diff/) });
    }
    expect(state()).toBe('active');
    expect(originText()).toMatch(/snapshot-origin/);
    p.dm.open('snapstore-up1-snap', -1);
    expect((await commitSnapshot({ ...opts(), name: 'up1' })).outcome).toBe('committed');
  });

  it('discard --keep-store keeps the store file and its record', async () => {
    await createSnapshot(base());
    const r = await discardSnapshot({ ...opts(), name: 'up1', keepStore: true });
    expect(r.outcome).toBe('discarded');
    expect(ours()).toEqual([]);
    expect(findManifest(StateDir.need(stateDir), 'up1')).toBeDefined();
  });
});

describe('rollback', () => {
  it('asked while the origin is mounted, it is pending; the next activate starts the merge; it finishes once the kernel is done', async () => {
    await createSnapshot(base());
    p.mountOrigin('/data');
    const r = await rollbackSnapshot({ ...opts(), name: 'up1' });
    expect(r.outcome).toBe('pending');
    expect(state()).toBe('rollback-pending');
    expect(ours()).toHaveLength(3); // still recording
    p.reboot();
    p.dm.statusOnLive.set(ORIGIN, '4096/32768 16');
    const a = await activateSnapshots(opts());
    expect(a).toEqual([expect.objectContaining({ name: 'up1', action: 'merge-started' })]);
    expect(state()).toBe('merging');
    expect(originText()).toMatch(/^0 2097152 snapshot-merge /);
    expect(ours()).toEqual(['snapstore-up1-cow', 'snapstore-up1-real']);
    const s = snapshotStatus({ stateDir, platform: p });
    expect(s[0]).toMatchObject({ state: 'merging', health: 'valid', agrees: true, mergeRemaining: (4096 - 16) * 512 });
    // Nothing brings back a writable snapshot once merging: commit and discard refuse, activate goes on merging.
    await expect(commitSnapshot({ ...opts(), name: 'up1' })).rejects.toMatchObject({ code: 'BAD_STATE' });
    await expect(discardSnapshot({ ...opts(), name: 'up1' })).rejects.toMatchObject({ code: 'BAD_STATE' });
    expect((await rollbackSnapshot({ ...opts(), name: 'up1' })).outcome).toBe('merging');
    p.dm.setStatus(ORIGIN, '16/32768 16');
    const done = await rollbackSnapshot({ ...opts(), name: 'up1', wait: true });
    expect(done.outcome).toBe('rolled-back');
    expect(originText()).toBe(ownText);
    expect(ours()).toEqual([]);
    expect(findManifest(StateDir.need(stateDir), 'up1')).toBeUndefined();
    expect((await rollbackSnapshot({ ...opts(), name: 'up1' })).outcome).toBe('already-rolled-back');
  });

  it('a merge done before its filesystem is mounted leaves the store pending; a rerun once it is mounted deletes it (the demo once left the store file behind)', async () => {
    await createSnapshot(base());
    // The store lives on the origin's filesystem, not mounted while it rolls back; the merge is quick.
    p.storeFsMounted = false;
    p.dm.statusOnLive.set(ORIGIN, '16/32768 16');
    const r = await rollbackSnapshot({ ...opts(), name: 'up1' });
    expect(r).toMatchObject({ outcome: 'rolled-back', message: expect.stringMatching(/deleted once its filesystem is mounted/) });
    expect(readSnapshot(StateDir.need(stateDir), 'up1').storePending).toBe(true);
    p.storeFsMounted = true;
    const again = await rollbackSnapshot({ ...opts(), name: 'up1', wait: true });
    expect(again).toMatchObject({ outcome: 'already-rolled-back', message: expect.stringMatching(/its store is deleted now/) });
    expect(findManifest(StateDir.need(stateDir), 'up1')).toBeUndefined();
    expect(readSnapshot(StateDir.need(stateDir), 'up1')).toMatchObject({ state: 'rolled-back', storePending: false });
    expect((await rollbackSnapshot({ ...opts(), name: 'up1' })).message).toBe('snapshot "up1" was already rolled back');
  });

  it('with the origin unmounted it merges at once: merging is written before the table switch', async () => {
    await createSnapshot(base());
    p.dm.statusOnLive.set(ORIGIN, '800/32768 16');
    const r = await rollbackSnapshot({ ...opts(), name: 'up1' });
    expect(r.outcome).toBe('merging');
    const m = readSnapshot(StateDir.need(stateDir), 'up1');
    expect(m.mergeOwner).toBe('kernel');
    const iState = p.dm.ops.lastIndexOf('load data');
    expect(iState).toBeGreaterThan(p.dm.ops.lastIndexOf('remove snapstore-up1-snap'));
  });

  it('an Invalid snapshot is never merged: the loss is reported and the origin left as it is', async () => {
    await createSnapshot(base());
    p.dm.setStatus('snapstore-up1-snap', 'Invalid');
    const before = originText();
    await expect(rollbackSnapshot({ ...opts(), name: 'up1' })).rejects.toMatchObject({ code: 'SNAPSHOT_INVALID', message: expect.stringMatching(/rollback is lost/) });
    expect(originText()).toBe(before);
    expect(readSnapshot(StateDir.need(stateDir), 'up1').invalid).toBe(true);
    expect(snapshotStatus({ stateDir, platform: p })[0]?.health).toBe('invalid');
    expect((await commitSnapshot({ ...opts(), name: 'up1' })).outcome).toBe('committed');
  });

  it('refuses while the snapshot device is open, before anything is written', async () => {
    await createSnapshot(base());
    p.dm.open('snapstore-up1-snap');
    await expect(rollbackSnapshot({ ...opts(), name: 'up1' })).rejects.toMatchObject({ code: 'DEVICE_BUSY' });
    expect(state()).toBe('active');
  });
});

describe('activate after a reboot', () => {
  it('rebuilds the stack under the same names; a second activate changes nothing', async () => {
    await createSnapshot(base());
    p.reboot();
    expect(ours()).toEqual([]);
    const a = await activateSnapshots(opts());
    expect(a[0]).toMatchObject({ action: 'activated' });
    expect(ours()).toEqual(['snapstore-up1-cow', 'snapstore-up1-real', 'snapstore-up1-snap']);
    expect(originText()).toMatch(/snapshot-origin/);
    const mark = p.dm.ops.length;
    expect((await activateSnapshots(opts()))[0]?.action).toBe('already-active');
    expect(p.dm.ops.slice(mark).filter((o) => /^(create|load|suspend|resume|remove)/.test(o))).toEqual([]);
  });

  it('refuses an origin mounted before activate (writes since boot are not in the snapshot)', async () => {
    await createSnapshot(base());
    p.reboot();
    p.mountOrigin('/data');
    await expect(activateSnapshots(opts())).rejects.toMatchObject({ code: 'ORIGIN_MOUNTED' });
    expect(ours()).toEqual([]);
  });

  it('trusts the map only when the store header read raw agrees', async () => {
    await createSnapshot(base());
    p.reboot();
    p.headers.get('up1')!.writeUInt32LE(0xdeadbeef, 0);
    await expect(activateSnapshots(opts())).rejects.toMatchObject({ code: 'STORE_HEADER_MISMATCH' });
    p.headers.set('up1', Buffer.alloc(512));
    await expect(activateSnapshots(opts())).rejects.toMatchObject({ code: 'STORE_HEADER_MISMATCH', message: expect.stringMatching(/all zeros/) });
    expect(ours()).toEqual([]);
  });

  it('reports a store the kernel invalidated and activates nothing', async () => {
    await createSnapshot(base());
    p.reboot();
    p.invalidate('up1');
    expect((await activateSnapshots(opts()))[0]?.action).toBe('invalid');
    expect(ours()).toEqual([]);
    await expect(rollbackSnapshot({ ...opts(), name: 'up1' })).rejects.toMatchObject({ code: 'SNAPSHOT_INVALID' });
  });

  it('refuses an origin that is another device (its uuid changed)', async () => {
    await createSnapshot(base());
    p.dm.powerOff();
    p.dm.createDeviceNow(ORIGIN, ORIGIN_TABLE, 'LVM-other');
    await expect(activateSnapshots(opts())).rejects.toMatchObject({ code: 'ORIGIN_CHANGED' });
  });
});

describe('status', () => {
  it('reports usage, health and whether kernel and manifest agree', async () => {
    await createSnapshot(base());
    p.dm.setStatus('snapstore-up1-snap', '2048/32768 32');
    const [s] = snapshotStatus({ stateDir, platform: p });
    expect(s).toMatchObject({
      name: 'up1',
      mode: 'checkpoint',
      state: 'active',
      health: 'valid',
      agrees: true,
      snapshotDevice: '/dev/mapper/snapstore-up1-snap',
      usage: { used: 2048 * 512, total: 32768 * 512, free: (32768 - 2048) * 512, usedPercent: 6.3 },
    });
    await p.dm.remove('snapstore-up1-snap').catch(() => {});
    p.dm.suspend(ORIGIN);
    const [t] = snapshotStatus({ stateDir, platform: p });
    expect(t?.agrees).toBe(false);
    expect(t?.problems.join('\n')).toMatch(/suspended/);
  });
});

describe('the lock', () => {
  it('a second command refuses at once while another holds the lock, or waits for it with waitLockMs', async () => {
    await createSnapshot(base());
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const holder = withStateLock(StateDir.need(stateDir), () => held);
    await expect(commitSnapshot({ ...opts(), name: 'up1' })).rejects.toMatchObject({ code: 'LOCKED' });
    expect(state()).toBe('active');
    const waiting = commitSnapshot({ ...opts(), name: 'up1', waitLockMs: 5000 });
    setTimeout(release, 300);
    expect((await waiting).outcome).toBe('committed');
    await holder;
  });
});

void deviceNumber;
