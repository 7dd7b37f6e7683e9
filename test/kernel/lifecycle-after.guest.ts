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
import { guestDisk, requireGuest, run } from '../vm/guest.js';
import { bootDevices, DEVS, ENROLL, FSTAB, mount, MOUNTS, openQ, TYPE, UNMOUNT_ALL } from './lifecycle-system.js';
import { createSnapshot } from '../../src/snapshot/create.js';
import { commitSnapshot } from '../../src/snapshot/commit.js';
import { readSnapshot } from '../../src/snapshot/manifest.js';
import { StateDir } from '../../src/state/state-dir.js';
import { bytes, chunkSize, parseSize } from '../../src/units/units.js';
import { deviceSha, fsck, loadHashes, loadTree, mountMeta, saveTree, sh, STATE, tree, update } from './lifecycle-helpers.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';
const opts = { stateDir: STATE, log: () => {} };

describe('phase 2: after the reboot', () => {
  beforeAll(() => {
    mountMeta(false);
    bootDevices();
    mount('g');
  });
  afterAll(() => sh(UNMOUNT_ALL));

  test('u1: the merge the kernel began (cut by the power-off) is finished offline, before activate: the origin is the new image, block for block (CLI)', async () => {
    const h = loadHashes();
    const [first, cut] = h['u1-cut']!.split(' ').map(Number);
    const left = JSON.parse(run('node', ['bin/snapstore', 'inspect', '--store', 'u1', '--state-dir', STATE, '--json']));
    // What the kernel had not merged yet is still in the store (in chunks of 4 KiB; the status counts sectors with metadata).
    expect(left.exceptions).toBeGreaterThan(0);
    expect(left.exceptions * 4096).toBeLessThan(first!);
    console.log(`u1: ${left.exceptions} exceptions left by the kernel's merge (status said ${cut} of ${first} bytes)`);
    const out = JSON.parse(run('node', ['bin/snapstore', 'commit', 'u1', '--offline', '--state-dir', STATE, '--json']));
    expect(out).toMatchObject({ outcome: 'committed' });
    expect(deviceSha(guestDisk('u1'))).toBe(h['u1-new']);
    expect(fs.existsSync(`${MOUNTS.g}/.snapstore/u1.store`)).toBe(false);
    expect(readSnapshot(StateDir.need(STATE), 'u1')).toMatchObject({ state: 'committed', mergeOwner: 'offline' });
  });

  test('i: rollback --offline after the reboot, before activate: the old tree, fsck clean (CLI)', async () => {
    const out = JSON.parse(run('node', ['bin/snapstore', 'rollback', 'i', '--offline', '--state-dir', STATE, '--json']));
    expect(out).toMatchObject({ outcome: 'rolled-back' });
    expect(run('dmsetup', ['table', 'data-i'])).not.toMatch(/snapshot/);
    mount('i');
    expect(tree(MOUNTS.i)).toEqual(loadTree('i-before'));
    const rec = await recoverSnapshots(opts);
    expect(rec.actions.join('\n')).toMatch(/deleted the store of "i"/);
    run('umount', [MOUNTS.i]);
    fsck(DEVS.i, 'ext4');
  });

  test('h: an offline rollback stopped at a safe point after its first batch leaves the store half merged; the kernel takes it over at activate', async () => {
    const stop = new AbortController();
    await expect(
      rollbackSnapshot({ ...opts, name: 'h', offline: true, offlineBatch: bytes(1 << 20), signal: stop.signal, onOfflineProgress: () => stop.abort('the test') }),
    ).rejects.toMatchObject({ code: 'INTERRUPTED' });
    expect(readSnapshot(StateDir.need(STATE), 'h')).toMatchObject({ state: 'merging', mergeOwner: 'offline' });
    const left = JSON.parse(run('node', ['bin/snapstore', 'inspect', '--store', 'h', '--state-dir', STATE, '--json']));
    expect(left.exceptions).toBeGreaterThan(0);
    expect(left.merge.total).toBeGreaterThan(left.exceptions);
  });

  test('activate rebuilds every snapshot before the filesystems are mounted; the pending rollback starts merging, and the filesystem mounted at once shows the tree before the checkpoint', async () => {
    const r = await activateSnapshots(opts);
    const by = Object.fromEntries(r.map((x) => [x.name, x.action]));
    expect(by).toEqual({ a: 'merge-started', b: 'activated', c: 'activated', d: 'activated', f: 'nothing', h: 'merging', i: 'nothing', u1: 'nothing', u2: 'activated', u3: 'activated', p: 'mapped', q: 'mapped', qc: 'activated' });
    // The enrolled partitions first: qc is a checkpoint over q's passthrough.
    expect(r.slice(0, 2).map((x) => x.name)).toEqual(['p', 'q']);
    expect(readSnapshot(StateDir.need(STATE), 'h').mergeOwner).toBe('kernel');
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

  test('h: the kernel finishes the merge the offline one began: the old tree, fsck clean', async () => {
    // Another test's `recover` may have ended it once the kernel was done.
    const r = await rollbackSnapshot({ ...opts, name: 'h', wait: true });
    expect(['rolled-back', 'already-rolled-back']).toContain(r.outcome);
    expect(readSnapshot(StateDir.need(STATE), 'h')).toMatchObject({ state: 'rolled-back', mergeOwner: 'kernel' });
    mount('h');
    expect(tree(MOUNTS.h)).toEqual(loadTree('h-before'));
    await recoverSnapshots(opts);
    expect(fs.readdirSync(`${MOUNTS.h}/.snapstore`)).toEqual([]);
    run('umount', [MOUNTS.h]);
    fsck(DEVS.h, 'ext4');
  });

  test('u2: after activate snapstore-u2 is the new image; the system runs from it (mounted) while the commit merges in place; the origin is then the new image', async () => {
    const h = loadHashes();
    const disk = guestDisk('u2');
    expect(deviceSha('/dev/mapper/snapstore-u2')).toBe(h['u2-new']);
    expect(deviceSha(disk)).toBe(h['u2-old']);
    // Read-only and without journal replay, so that mounting writes nothing and the hashes can be compared.
    fs.mkdirSync('/tmp/mnt/new', { recursive: true });
    run('mount', ['-o', 'ro,noload', '/dev/mapper/snapstore-u2', '/tmp/mnt/new']);
    const r = await commitSnapshot({ ...opts, name: 'u2', wait: true });
    expect(r.outcome).toBe('committed');
    expect(fs.readFileSync('/tmp/mnt/new/release', 'utf8')).toBe('version 2\n');
    expect(run('dmsetup', ['table', 'snapstore-u2'])).toMatch(/ linear /);
    run('umount', ['/tmp/mnt/new']);
    expect(deviceSha(disk)).toBe(h['u2-new']);
    // The passthrough left while it was mounted is taken down once it is closed.
    expect((await recoverSnapshots(opts)).actions.join('\n')).toMatch(/removed snapstore-u2/);
    expect(fs.existsSync(`${MOUNTS.g}/.snapstore/u2.store`)).toBe(false);
  });

  test('u3: rollback drops the update: the origin is the old image, never written', async () => {
    const h = loadHashes();
    expect(deviceSha('/dev/mapper/snapstore-u3')).toBe(h['u3-new']);
    const r = await rollbackSnapshot({ ...opts, name: 'u3' });
    expect(r.outcome).toBe('rolled-back');
    expect(run('dmsetup', ['ls'])).not.toMatch(/snapstore-u3/);
    expect(deviceSha(guestDisk('u3'))).toBe(h['u3-old']);
    expect(fs.existsSync(`${MOUNTS.g}/.snapstore/u3.store`)).toBe(false);
  });

  test('q: crypttab opens the passthrough (cryptsetup\'s defaults); the filesystem shows the update; unmounted, the rollback merges beneath the crypt layer: the old tree, fsck clean', async () => {
    openQ();
    fs.mkdirSync(ENROLL.q, { recursive: true });
    run('mount', ['/dev/mapper/q-crypt', ENROLL.q]);
    expect(tree(ENROLL.q)).toEqual(loadTree('q-after'));
    run('umount', [ENROLL.q]);
    const r = await rollbackSnapshot({ ...opts, name: 'qc', wait: true });
    expect(r.outcome).toBe('rolled-back');
    expect(run('dmsetup', ['table', 'snapstore-q'])).toMatch(/ linear /);
    run('mount', ['/dev/mapper/q-crypt', ENROLL.q]);
    expect(tree(ENROLL.q)).toEqual(loadTree('q-before'));
    await recoverSnapshots(opts);
    expect(fs.readdirSync(`${ENROLL.q}/.snapstore`)).toEqual([]);
    run('umount', [ENROLL.q]);
    fsck('/dev/mapper/q-crypt', 'ext4');
    run('cryptsetup', ['close', 'q-crypt']);
  });

  test('p: mounted from the fstab enroll edited: through the passthrough activate made (UUID= would name two devices), the same files; a checkpoint over it; an update', async () => {
    fs.mkdirSync(ENROLL.p, { recursive: true });
    // Why the entry names the dm device: the filesystem's UUID is on the partition and on the passthrough alike.
    const uuid = run('blkid', ['-p', '-s', 'UUID', '-o', 'value', '/dev/mapper/snapstore-p']).trim();
    const both = run('timeout', ['60', 'blkid', '-t', `UUID=${uuid}`, '-o', 'device']).trim().split('\n').sort();
    console.log(`p: UUID=${uuid} is carried by ${both.join(' and ')}`);
    expect(both).toEqual([guestDisk('p'), '/dev/mapper/snapstore-p'].sort());
    run('mount', ['--fstab', FSTAB, ENROLL.p]);
    expect(run('findmnt', ['-n', '-o', 'SOURCE', ENROLL.p]).trim()).toBe('/dev/mapper/snapstore-p');
    expect(tree(ENROLL.p)).toEqual(loadTree('p-before'));
    const r = await createSnapshot({ ...opts, name: 'pc', origin: '/dev/mapper/snapstore-p', store: `${ENROLL.p}/.snapstore/pc.store`, size: parseSize('48M'), chunk: chunkSize(bytes(4096)), mode: 'checkpoint' });
    expect(r.manifest).toMatchObject({ state: 'active', origin: { dmName: 'snapstore-p' } });
    update(ENROLL.p);
    saveTree('p-after', tree(ENROLL.p));
    run('umount', [ENROLL.p]);
  });

  test('status: every snapshot finished, kernel and manifests agree; a second recover changes nothing', async () => {
    const s = snapshotStatus({ stateDir: STATE });
    expect(Object.fromEntries(s.map((x) => [x.name, x.state]))).toEqual({
      a: 'rolled-back',
      b: 'committed',
      c: 'rolled-back',
      d: 'rolled-back',
      f: 'discarded',
      h: 'rolled-back',
      i: 'rolled-back',
      u1: 'committed',
      u2: 'committed',
      u3: 'rolled-back',
      qc: 'rolled-back',
      pc: 'active',
    });
    expect(s.every((x) => x.agrees)).toBe(true);
    expect((await recoverSnapshots(opts)).actions).toEqual([]);
    // Left: the enrolled passthroughs, and pc's stack (its rollback comes after the next reboot).
    const ours = run('dmsetup', ['ls']).split('\n').map((l) => l.split(/\s+/)[0]!).filter((n) => n.startsWith('snapstore-')).sort();
    expect(ours).toEqual(['snapstore-p', 'snapstore-pc-cow', 'snapstore-pc-real', 'snapstore-pc-snap', 'snapstore-q']);
  });
});
