// The health-gated commit on the host, against the fake device-mapper and
// platform (whose reboot is a power-off: every dm device gone, a new boot
// id): `create --boot-attempts N`, each boot counted by activate before
// anything else it does, a commit ending it, the N+1th boot rolling back on
// its own through activate's path for a pending rollback, both modes; a boot
// cut short by a power loss, and a crash between the count and the rest of
// activate. The real kernel across real reboots: not here.
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
import { snapshotStatus } from '../../src/snapshot/status.js';
import { StateDir } from '../../src/state/state-dir.js';
import { findManifest } from '../../src/store/manifest.js';
import { bytes, chunkSize } from '../../src/units/units.js';
import { FakePlatform, ORIGIN, ORIGIN_PATH, ORIGIN_TABLE } from '../support/fake-platform.js';
import { checkConsistent } from '../support/lifecycle-checks.js';

let stateDir: string;
let p: FakePlatform;
const opts = () => ({ stateDir, platform: p, log: () => {} });
const checkpoint = (bootAttempts: number): CreateSnapshotOptions => ({
  ...opts(),
  name: 'up1',
  origin: ORIGIN_PATH,
  store: '/data/.snapstore/up1.store',
  size: bytes(16 << 20),
  chunk: chunkSize(bytes(4096)),
  mode: 'checkpoint',
  bootAttempts,
});
const ownText = formatTable(ORIGIN_TABLE, new FakePlatform().dm.features());
const originText = () => formatTable(p.dm.table(ORIGIN), p.dm.features());
const ours = () => p.dm.names().filter((n) => n.startsWith('snapstore-'));
const manifest = () => readSnapshot(StateDir.need(stateDir), 'up1');
const storeExists = () => findManifest(StateDir.need(stateDir), 'up1') !== undefined;
const changes = (from: number) => p.dm.ops.slice(from).filter((o) => /^(create|load|suspend|resume|remove)/.test(o));

/** A power-off, the boot, and activate as the boot runs it: the one result (one snapshot, nothing enrolled). */
async function boot() {
  p.reboot();
  const [r] = await activateSnapshots(opts());
  return r!;
}

/** Runs `fn` with a simulated crash (nothing undone) at fault point `label`; its other errors are errors. */
async function crashingAt(label: string, fn: () => Promise<unknown>): Promise<void> {
  setFaultHandler((l) => {
    if (l === label) throw new SimulatedCrash(l);
  });
  try {
    await fn().catch((e: unknown) => {
      if (!(e instanceof SimulatedCrash)) throw e;
    });
  } finally {
    setFaultHandler(undefined);
  }
}

/** The fault points activate passes, in order, on a fresh world made by `setup`. */
async function activateLabels(setup: () => Promise<void>): Promise<string[]> {
  await setup();
  const labels: string[] = [];
  setFaultHandler((l) => void labels.push(l));
  try {
    await activateSnapshots(opts());
  } finally {
    setFaultHandler(undefined);
  }
  return labels;
}

beforeEach(() => {
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-boots-'));
  p = new FakePlatform();
});
afterEach(() => fs.rmSync(stateDir, { recursive: true, force: true }));

describe('create --boot-attempts', () => {
  it('records the budget in the manifest, the boot of create being no attempt; an activate in that boot counts nothing', async () => {
    const r = await createSnapshot(checkpoint(3));
    expect(r.manifest?.bootAttempts).toEqual({ budget: 3, used: 0, lastBoot: p.bootId() });
    const mark = p.dm.ops.length;
    const [a] = await activateSnapshots(opts());
    expect(a).toMatchObject({ action: 'already-active', bootAttempts: { outcome: 'same-boot', used: 0, budget: 3, message: expect.stringMatching(/made in this boot, which is no attempt: the 3 boot attempts start with the next boot/) } });
    expect(changes(mark)).toEqual([]);
    expect(manifest().bootAttempts?.used).toBe(0);
  });

  it('--dry-run says the budget in its plan', async () => {
    const r = await createSnapshot({ ...checkpoint(2), dryRun: true });
    expect(r.plan.steps.at(-1)).toMatch(/record the snapshot as active .*, with a budget of 2 boot attempts/);
  });

  it.each([0, -1, 1.5, Number.NaN, 2 ** 53])('refuses a budget of %s (no positive whole number), changing nothing', async (n) => {
    await expect(createSnapshot(checkpoint(n))).rejects.toMatchObject({ code: 'BAD_VALUE', usage: true, message: expect.stringMatching(/bootAttempts ".*" is not a positive whole number of boots/) });
    expect(fs.readdirSync(stateDir)).toEqual([]);
    expect(ours()).toEqual([]);
    expect(originText()).toBe(ownText);
  });

  it('a snapshot without a budget is never counted', async () => {
    await createSnapshot({ ...checkpoint(1), bootAttempts: undefined } as CreateSnapshotOptions);
    for (let i = 0; i < 3; i++) expect(await boot()).not.toHaveProperty('bootAttempts');
    expect(manifest()).toMatchObject({ state: 'active' });
    expect(manifest().bootAttempts).toBeUndefined();
  });
});

describe('a healthy update: counted boots, then a commit', () => {
  it('each boot is counted once (an activate again in the same boot counts nothing); after the commit no boot counts or rolls back', async () => {
    await createSnapshot(checkpoint(3));
    const first = await boot();
    expect(first).toMatchObject({ action: 'activated', bootAttempts: { outcome: 'counted', used: 1, budget: 3, message: 'boot attempt 1 of 3 (not yet committed)' } });
    const mark = p.dm.ops.length;
    expect((await activateSnapshots(opts()))[0]).toMatchObject({ action: 'already-active', bootAttempts: { outcome: 'same-boot', used: 1, message: 'boot attempt 1 of 3, counted already in this boot (not yet committed)' } });
    expect(changes(mark)).toEqual([]);
    expect((await boot()).bootAttempts).toMatchObject({ outcome: 'counted', used: 2 });
    expect(snapshotStatus({ stateDir, platform: p })[0]?.bootAttempts).toEqual({ used: 2, budget: 3, spent: false });
    // The health check passes in the second boot.
    expect((await commitSnapshot({ ...opts(), name: 'up1' })).outcome).toBe('committed');
    for (let i = 0; i < 4; i++) {
      const r = await boot();
      expect(r).toMatchObject({ action: 'nothing' });
      expect(r).not.toHaveProperty('bootAttempts');
    }
    expect(manifest()).toMatchObject({ state: 'committed', bootAttempts: { used: 2, budget: 3 } });
    expect(ours()).toEqual([]);
    expect(originText()).toBe(ownText);
    expect(storeExists()).toBe(false);
  });

  it('the last attempt says the next boot rolls back unless this one commits; a commit then keeps the update', async () => {
    await createSnapshot(checkpoint(1));
    expect((await boot()).bootAttempts?.message).toBe('boot attempt 1 of 1, the last (not yet committed: unless `snapstore commit up1` runs in this boot, the next one rolls back)');
    expect((await commitSnapshot({ ...opts(), name: 'up1' })).outcome).toBe('committed');
    expect((await boot()).action).toBe('nothing');
  });
});

describe('an unhealthy update: N boots without a commit', () => {
  it('N boots try it; the N+1th activate starts the rollback on its own before the filesystem is mounted; commit refuses from then on', async () => {
    await createSnapshot(checkpoint(3));
    for (const n of [1, 2, 3]) expect(await boot()).toMatchObject({ action: 'activated', bootAttempts: { outcome: 'counted', used: n } });
    p.reboot();
    p.dm.statusOnLive.set(ORIGIN, '4096/32768 16');
    const [r] = await activateSnapshots(opts());
    expect(r).toMatchObject({
      action: 'merge-started',
      bootAttempts: { outcome: 'spent', used: 3, budget: 3, message: '3 boot attempts spent without a commit: rolling back (the merge runs now, before the filesystem on data is mounted)' },
    });
    // activate's path for a pending rollback: the origin carries the merge and shows the old contents.
    expect(manifest().history.map((h) => h.state).slice(-2)).toEqual(['rollback-pending', 'merging']);
    expect(manifest()).toMatchObject({ state: 'merging', mergeOwner: 'kernel', bootAttempts: { used: 3, budget: 3, spent: true } });
    expect(originText()).toMatch(/^0 2097152 snapshot-merge /);
    expect(ours()).toEqual(['snapstore-up1-cow', 'snapstore-up1-real']);
    expect(snapshotStatus({ stateDir, platform: p })[0]).toMatchObject({ state: 'merging', agrees: true, bootAttempts: { used: 3, budget: 3, spent: true } });
    // The health check that comes too late is refused, and changes nothing.
    await expect(commitSnapshot({ ...opts(), name: 'up1' })).rejects.toMatchObject({
      code: 'BAD_STATE',
      message: 'snapshot "up1" cannot be committed: its 3 boot attempts were spent without a commit, and the rollback was decided at boot (it is merging into data, and a merge only goes forward)',
    });
    expect(manifest().state).toBe('merging');
    // The kernel finishes the merge: the origin back on its own table, holding the old contents.
    p.dm.setStatus(ORIGIN, '16/32768 16');
    expect((await activateSnapshots(opts()))[0]).toMatchObject({ action: 'merge-finished' });
    expect(manifest().state).toBe('rolled-back');
    expect(originText()).toBe(ownText);
    expect(ours()).toEqual([]);
    expect(storeExists()).toBe(false);
    await expect(commitSnapshot({ ...opts(), name: 'up1' })).rejects.toMatchObject({ code: 'BAD_STATE', message: expect.stringMatching(/rollback was decided at boot \(it is done: data holds the contents from before the update\)/) });
    expect((await boot()).action).toBe('nothing');
  });

  it('a snapshot the kernel invalidated is not rolled back (the rollback is lost), and commit cleans it up', async () => {
    await createSnapshot(checkpoint(1));
    await boot();
    p.invalidate('up1');
    expect(await boot()).toMatchObject({ action: 'invalid', bootAttempts: { outcome: 'spent' } });
    expect(ours()).toEqual([]);
    expect((await commitSnapshot({ ...opts(), name: 'up1' })).outcome).toBe('committed');
  });

  it('update mode: the N+1th activate drops the update before anything mounts it; the origin was never written', async () => {
    p.addPlain('vdb', deviceNumber(254, 16), 1 << 20, '5e1f00d0-02');
    p.mountOrigin('/data'); // the store's filesystem, another one than the update's origin
    await createSnapshot({ ...checkpoint(2), origin: '/dev/vdb', mode: 'update' });
    for (const n of [1, 2]) expect(await boot()).toMatchObject({ action: 'activated', bootAttempts: { outcome: 'counted', used: n } });
    expect(await boot()).toMatchObject({
      action: 'finished',
      bootAttempts: { outcome: 'spent', message: '2 boot attempts spent without a commit: rolling back (the update is dropped now, before anything mounts snapstore-up1; /dev/vdb keeps the old contents)' },
    });
    expect(manifest()).toMatchObject({ state: 'rolled-back', bootAttempts: { spent: true } });
    expect(ours()).toEqual([]);
    expect(storeExists()).toBe(false);
    await expect(commitSnapshot({ ...opts(), name: 'up1' })).rejects.toMatchObject({ code: 'BAD_STATE', message: expect.stringMatching(/2 boot attempts were spent without a commit/) });
  });
});

describe('crashes', () => {
  it('activate writes the count before anything else; a power loss at any later point of the first boot still counts that boot', async () => {
    const labels = await activateLabels(async () => {
      await createSnapshot(checkpoint(3));
      p.reboot();
    });
    expect(labels.slice(0, 2)).toEqual(['before:state active', 'after:state active']);
    expect(labels.length).toBeGreaterThan(4);
    for (const [i, label] of labels.entries()) {
      fs.rmSync(stateDir, { recursive: true, force: true });
      stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-boots-'));
      p = new FakePlatform();
      await createSnapshot(checkpoint(3));
      p.reboot();
      await crashingAt(label, () => activateSnapshots(opts()));
      // The power is cut there; the next boot is healthy.
      const counted = i >= labels.indexOf('after:state active') ? 2 : 1;
      expect(await boot(), label).toMatchObject({ action: 'activated', bootAttempts: { outcome: 'counted', used: counted } });
      await recoverSnapshots(opts());
      checkConsistent({ dm: p.dm, platform: p, stateDir, name: 'up1', origin: ORIGIN, ownTable: ownText });
      expect((await commitSnapshot({ ...opts(), name: 'up1' })).outcome).toBe('committed');
    }
  });

  it('a crash between the count and the rest of activate: an activate again in that boot builds the stack without counting again; the next boot counts', async () => {
    await createSnapshot(checkpoint(3));
    p.reboot();
    await crashingAt('before:dm.createDevice snapstore-up1-real', () => activateSnapshots(opts()));
    expect(manifest().bootAttempts?.used).toBe(1);
    expect(ours()).toEqual([]);
    expect((await activateSnapshots(opts()))[0]).toMatchObject({ action: 'activated', bootAttempts: { outcome: 'same-boot', used: 1 } });
    expect(originText()).toMatch(/snapshot-origin/);
    expect((await boot()).bootAttempts).toMatchObject({ outcome: 'counted', used: 2 });
  });

  it('a crash after the spent budget made the rollback pending: commit refuses; the next activate starts the merge', async () => {
    await createSnapshot(checkpoint(1));
    await boot();
    p.reboot();
    await crashingAt('after:state rollback-pending', () => activateSnapshots(opts()));
    expect(manifest()).toMatchObject({ state: 'rollback-pending', bootAttempts: { spent: true } });
    await expect(commitSnapshot({ ...opts(), name: 'up1' })).rejects.toMatchObject({
      code: 'BAD_STATE',
      message: expect.stringMatching(/its 1 boot attempt was spent without a commit, and the rollback was decided at boot \(it starts at the next `snapstore activate`/),
      hint: expect.stringMatching(/snapstore discard up1/),
    });
    expect(manifest().state).toBe('rollback-pending');
    p.reboot();
    expect((await activateSnapshots(opts()))[0]).toMatchObject({ action: 'merge-started' });
    expect(originText()).toMatch(/snapshot-merge/);
  });

  it('an engineer who wants the update anyway drops the snapshot by hand before that boot (discard)', async () => {
    await createSnapshot(checkpoint(1));
    await boot();
    p.reboot();
    await crashingAt('after:state rollback-pending', () => activateSnapshots(opts()));
    expect((await discardSnapshot({ ...opts(), name: 'up1' })).outcome).toBe('discarded');
    expect((await boot()).action).toBe('nothing');
    expect(originText()).toBe(ownText);
  });
});
