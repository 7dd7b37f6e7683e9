// Guest side of the lifecycle suite, boot 2 (after the reboot; boot 1:
// lifecycle-before.guest.ts): activate; the pending rollback merges with the
// filesystem mountable at once; commit; rollbacks of xfs and dm-crypt; fsck;
// every file's checksum; the stores gone.
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { activateSnapshots } from '../../src/snapshot/activate.js';
import { recoverSnapshots } from '../../src/snapshot/recover.js';
import { rollbackSnapshot } from '../../src/snapshot/rollback.js';
import { snapshotStatus } from '../../src/snapshot/status.js';
import { requireGuest, run } from '../vm/guest.js';
import { bootDevices, DEVS, mount, MOUNTS, TYPE } from './lifecycle-system.js';
import { fsck, loadTree, mountMeta, sh, STATE, tree } from './lifecycle-helpers.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';
const opts = { stateDir: STATE, log: () => {} };

describe('phase 2: after the reboot', () => {
  beforeAll(() => {
    mountMeta(false);
    bootDevices();
    mount('g');
  });
  afterAll(() => sh('sync; umount /tmp/mnt/a /tmp/mnt/b /tmp/mnt/c /tmp/mnt/d /tmp/mnt/g 2>/dev/null; true'));

  test('activate rebuilds every snapshot before the filesystems are mounted; the pending rollback starts merging, and the filesystem mounted at once shows the tree before the checkpoint', async () => {
    const r = await activateSnapshots(opts);
    const by = Object.fromEntries(r.map((x) => [x.name, x.action]));
    expect(by).toEqual({ a: 'merge-started', b: 'activated', c: 'activated', d: 'activated', f: 'nothing' });
    expect(run('dmsetup', ['table', 'data-a'])).toMatch(/snapshot-merge/);
    mount('a');
    const [s] = snapshotStatus({ stateDir: STATE, name: 'a' });
    console.log(`a mounted while merging: ${s?.mergeRemaining} bytes of exceptions still to merge`);
    expect(tree(MOUNTS.a)).toEqual(loadTree('a-before'));
    fs.writeFileSync(`${MOUNTS.a}/written-during-the-merge`, 'kept\n');
    // A second activate changes nothing (or, the kernel done, ends the rollback).
    const again = await activateSnapshots(opts);
    expect(Object.fromEntries(again.map((x) => [x.name, x.action]))).toMatchObject({ b: 'already-active', c: 'already-active', d: 'already-active' });
  });

  test('a: the merge ends, the store is gone, fsck is clean, the old tree is back (with what was written during the merge)', async () => {
    const r = await rollbackSnapshot({ ...opts, name: 'a', wait: true });
    expect(['rolled-back', 'already-rolled-back']).toContain(r.outcome);
    expect(fs.readdirSync(`${MOUNTS.a}/.snapstore`)).toEqual([]);
    run('umount', [MOUNTS.a]);
    fsck(DEVS.a, 'ext4');
    expect(run('dmsetup', ['table', 'data-a'])).not.toMatch(/snapshot/);
    mount('a');
    expect(tree(MOUNTS.a)).toEqual({ ...loadTree('a-before'), 'written-during-the-merge': expect.stringMatching(/^file /) });
    run('umount', [MOUNTS.a]);
  });

  test('b: commit keeps the updated tree, deletes the store, and the origin is a passthrough again (CLI)', async () => {
    mount('b');
    const out = JSON.parse(run('node', ['bin/snapstore', 'commit', 'b', '--state-dir', STATE, '--json']));
    expect(out).toMatchObject({ outcome: 'committed' });
    expect(tree(MOUNTS.b)).toEqual(loadTree('b-after'));
    expect(fs.readdirSync(`${MOUNTS.b}/.snapstore`)).toEqual([]);
    expect(run('dmsetup', ['table', 'data-b']).trim().split('\n')).toHaveLength(1);
    expect(run('dmsetup', ['table', 'data-b'])).toMatch(/ linear /);
    expect(run('dmsetup', ['ls'])).not.toMatch(/snapstore-b-/);
    run('umount', [MOUNTS.b]);
    fsck(DEVS.b, 'ext4');
  });

  test.each([['c', 'xfs'], ['d', 'dm-crypt']] as const)('%s (%s): rollback after the reboot merges the old tree back, fsck clean', async (x, _kind) => {
    const r = await rollbackSnapshot({ ...opts, name: x, wait: true });
    expect(r.outcome).toBe('rolled-back');
    // Mounted (xfs replays its log: the snapshot was of a frozen, mounted filesystem), then checked.
    mount(x);
    expect(tree(MOUNTS[x])).toEqual(loadTree(`${x}-before`));
    // The store lives on the filesystem that was merged: it is deleted once that is mounted.
    const rec = await recoverSnapshots(opts);
    expect(rec.actions.join('\n')).toMatch(new RegExp(`deleted the store of "${x}"`));
    expect(fs.readdirSync(`${MOUNTS[x]}/.snapstore`)).toEqual([]);
    run('umount', [MOUNTS[x]]);
    fsck(DEVS[x], TYPE[x]);
  });

  test('status: every snapshot finished, kernel and manifests agree; a second recover changes nothing', async () => {
    const s = snapshotStatus({ stateDir: STATE });
    expect(Object.fromEntries(s.map((x) => [x.name, x.state]))).toEqual({ a: 'rolled-back', b: 'committed', c: 'rolled-back', d: 'rolled-back', f: 'discarded' });
    expect(s.every((x) => x.agrees)).toBe(true);
    expect((await recoverSnapshots(opts)).actions).toEqual([]);
    expect(run('dmsetup', ['ls'])).not.toMatch(/snapstore-/);
  });
});
