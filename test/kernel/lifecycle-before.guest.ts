// Guest side of the lifecycle suite, boot 1 (host side: lifecycle.test.ts;
// boot 2: lifecycle-after.guest.ts), over kept disks: real files on ext4,
// xfs and ext4 on dm-crypt, each on a dm device the "system" sets up; a
// checkpoint of each, an update while mounted (a Debian package unpacked,
// files deleted, overwritten, added); a rollback asked while mounted
// (pending); a LUKS2 device opened with cryptsetup's defaults refused; 1 MiB
// direct writes through an origin compared with the snapshot's view.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createSnapshot } from '../../src/snapshot/create.js';
import { FileIo } from '../../src/blockio/file-io.js';
import { discardSnapshot } from '../../src/snapshot/commit.js';
import { rollbackSnapshot } from '../../src/snapshot/rollback.js';
import { snapshotStatus } from '../../src/snapshot/status.js';
import { bytes, chunkSize, parseSize } from '../../src/units/units.js';
import { guestDisk, requireGuest, run } from '../vm/guest.js';
import { bootDevices, DEVS, ENROLL, FSTAB, KEY, mount, MOUNTS, openQ, TYPE, UNMOUNT_ALL, UPDATE_DISKS } from './lifecycle-system.js';
import { spawnSync } from 'node:child_process';
import { commitSnapshot } from '../../src/snapshot/commit.js';
import { debianPackage, deviceSha, fillWithFiles, loadCrypt, loadTree, META, mountMeta, saveHashes, saveTree, sectorsOf, sh, STATE, tree, update } from './lifecycle-helpers.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';
const chunk = chunkSize(bytes(4096));
const opts = { stateDir: STATE, log: () => {} };

describe('phase 1: checkpoints before the update', () => {
  beforeAll(() => {
    mountMeta(true);
    fs.mkdirSync(`${META}/keys`, { mode: 0o700 });
    fs.writeFileSync(KEY, randomBytes(64), { mode: 0o400 });
    loadCrypt();
    run('cryptsetup', ['luksFormat', '-q', '--type', 'luks2', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-file', KEY, guestDisk('d')]);
    bootDevices();
    for (const x of ['a', 'b', 'c', 'd', 'g', 'h', 'i'] as const) {
      run(TYPE[x] === 'ext4' ? 'mkfs.ext4' : 'mkfs.xfs', [TYPE[x] === 'ext4' ? '-qF' : '-qf', DEVS[x]]);
      mount(x);
      fs.mkdirSync(`${MOUNTS[x]}/.snapstore`, { mode: 0o700 });
    }
  });
  afterAll(() => sh(UNMOUNT_ALL));

  // h and i are rolled back offline after the reboot (i completely, h cut short and finished by the kernel).
  test.each(['a', 'b', 'c', 'd', 'h', 'i'] as const)('%s: a checkpoint of real files, then an update while mounted', async (x) => {
    const files = fillWithFiles(MOUNTS[x]);
    expect(files).toBeGreaterThan(400);
    saveTree(`${x}-before`, tree(MOUNTS[x]));
    if (x === 'b') {
      // Through the CLI, as an update agent calls it.
      const out = JSON.parse(run('node', ['bin/snapstore', 'create', x, '--origin', DEVS[x], '--store', `${MOUNTS[x]}/.snapstore/${x}.store`, '--size', '48M', '--mode', 'checkpoint', '--state-dir', STATE, '--json']));
      expect(out).toMatchObject({ name: 'b', state: 'active' });
    } else {
      const r = await createSnapshot({ ...opts, name: x, origin: DEVS[x], store: `${MOUNTS[x]}/.snapstore/${x}.store`, size: parseSize('48M'), chunk, mode: 'checkpoint' });
      expect(r.manifest?.state).toBe('active');
    }
    expect(run('dmsetup', ['table', DEVS[x].replace('/dev/mapper/', '')])).toMatch(/snapshot-origin/);
    update(MOUNTS[x]);
    saveTree(`${x}-after`, tree(MOUNTS[x]));
    const [s] = snapshotStatus({ stateDir: STATE, name: x });
    expect(s).toMatchObject({ state: 'active', health: 'valid', agrees: true });
    expect(s!.usage!.used).toBeGreaterThan(2 << 20);
    // The snapshot's view is the tree before the update (mounted read-only beside the origin).
    fs.mkdirSync('/tmp/mnt/view', { recursive: true });
    run('mount', ['-o', TYPE[x] === 'xfs' ? 'ro,norecovery,nouuid' : 'ro,noload', `/dev/mapper/snapstore-${x}-snap`, '/tmp/mnt/view']);
    try {
      expect(tree('/tmp/mnt/view')).toEqual(loadTree(`${x}-before`));
    } finally {
      run('umount', ['/tmp/mnt/view']);
    }
  });

  test('a: a rollback asked while mounted is recorded as pending; the snapshot keeps recording', async () => {
    const r = await rollbackSnapshot({ ...opts, name: 'a' });
    expect(r.outcome).toBe('pending');
    expect(r.message).toMatch(/next boot/);
    fs.writeFileSync(`${MOUNTS.a}/written-after-the-rollback-was-asked`, 'still recorded\n');
    sh('sync');
  });

  test('a LUKS2 device opened with cryptsetup\'s defaults (key in the keyring) is refused, and nothing changes', async () => {
    const e = guestDisk('e');
    run('cryptsetup', ['luksFormat', '-q', '--type', 'luks2', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-file', KEY, e]);
    run('cryptsetup', ['open', '--key-file', KEY, e, 'luks-e']);
    run('mkfs.ext4', ['-qF', '/dev/mapper/luks-e']);
    fs.mkdirSync('/tmp/mnt/e', { recursive: true });
    run('mount', ['/dev/mapper/luks-e', '/tmp/mnt/e']);
    fs.mkdirSync('/tmp/mnt/e/.snapstore', { mode: 0o700 });
    const table = run('dmsetup', ['table', 'luks-e']);
    expect(table).toMatch(/:logon:cryptsetup:/);
    const before = run('dmsetup', ['ls']);
    await expect(createSnapshot({ ...opts, name: 'e', origin: '/dev/mapper/luks-e', store: '/tmp/mnt/e/.snapstore/e.store', size: parseSize('8M'), chunk, mode: 'checkpoint' })).rejects.toMatchObject({
      code: 'ORIGIN_UNSUPPORTED',
      message: expect.stringMatching(/kernel keyring/),
    });
    expect(run('dmsetup', ['ls'])).toBe(before);
    expect(run('dmsetup', ['table', 'luks-e'])).toBe(table);
    expect(fs.readdirSync('/tmp/mnt/e/.snapstore')).toEqual([]);
    expect(fs.existsSync(`${STATE}/snapshots/e.json`)).toBe(false);
    sh('umount /tmp/mnt/e; cryptsetup close luks-e');
  });

  test('writes through the origin in 1 MiB direct I/Os: the snapshot keeps the old bytes, every one of them (resume order)', async () => {
    // A raw origin with no filesystem; its store lives on another filesystem over a dm device (/tmp/mnt/g).
    const f = guestDisk('f');
    const size = 64 << 20;
    run('dmsetup', ['create', 'raw-f', '--table', `0 ${sectorsOf(f)} linear ${f} 0`]);
    const old = randomBytes(size);
    const neu = randomBytes(size);
    const fd0 = fs.openSync('/dev/mapper/raw-f', 'r+');
    fs.writeSync(fd0, old, 0, size, 0);
    fs.fsyncSync(fd0);
    fs.closeSync(fd0);
    const r = await createSnapshot({ ...opts, name: 'f', origin: '/dev/mapper/raw-f', store: '/tmp/mnt/g/.snapstore/f.store', size: parseSize('96M'), chunk, mode: 'checkpoint' });
    expect(r.manifest?.state).toBe('active');
    // 1 MiB O_DIRECT writes (dd oflag=direct): multi-chunk I/Os through snapshot-origin.
    fs.writeFileSync('/tmp/new.bin', neu);
    run('dd', ['if=/tmp/new.bin', 'of=/dev/mapper/raw-f', 'bs=1M', `count=${size >> 20}`, 'oflag=direct', 'status=none']);
    const read = (dev: string): Buffer => {
      const b = Buffer.alloc(size);
      const fd = fs.openSync(dev, 'r');
      fs.readSync(fd, b, 0, size, 0);
      fs.closeSync(fd);
      return b;
    };
    sh('echo 3 > /proc/sys/vm/drop_caches');
    expect(read('/dev/mapper/snapstore-f-snap').equals(old)).toBe(true);
    expect(read('/dev/mapper/raw-f').equals(neu)).toBe(true);
    expect((await discardSnapshot({ ...opts, name: 'f' })).outcome).toBe('discarded');
    expect(run('dmsetup', ['table', 'raw-f']).trim()).toBe(`0 ${sectorsOf(f)} linear ${run('sh', ['-c', `stat -c '%t:%T' ${f}`]).trim().split(':').map((h) => parseInt(h, 16)).join(':')} 0`);
    run('dmsetup', ['remove', 'raw-f']);
  });
});


/**
 * 2,048 blocks of 4 KiB written in a shuffled order, each a direct write on its own, into
 * the last 16 MiB of `dev` (free space of the new filesystem): the snapshot stores them in
 * that order, so no two are a linear run and the kernel merges them one by one (slow
 * enough to be cut mid-way).
 */
function scatter(dev: string): void {
  const io = FileIo.open(dev, { writable: true, direct: true });
  try {
    const end = sectorsOf(dev) * 512;
    const order = [...Array(2048).keys()].sort(() => Math.random() - 0.5);
    for (const i of order) io.write(bytes(end - (16 << 20) + i * 8192), randomBytes(4096));
    io.flush();
  } finally {
    io.close();
  }
}

describe('phase 1b: update mode, over plain disks nothing uses', () => {
  const hashes: Record<string, string> = {};
  /** MiB of random data in each new image: u1's is large, so its merge can be cut mid-way. */
  const NEW_MIB: Record<(typeof UPDATE_DISKS)[number], number> = { u1: 24, u2: 4, u3: 4 };

  beforeAll(() => {
    mount('g');
    fs.mkdirSync('/tmp/mnt/new', { recursive: true });
  });
  afterAll(() => {
    saveHashes(hashes);
    sh(UNMOUNT_ALL);
  });

  test.each(UPDATE_DISKS)('%s: the update is written into its snapstore-NAME device; the origin is not touched', async (u) => {
    const disk = guestDisk(u);
    // The old image: a filesystem with files, not mounted by anyone now.
    run('mkfs.ext4', ['-qF', disk]);
    run('mount', [disk, '/tmp/mnt/new']);
    run('dpkg-deb', ['-x', debianPackage(), '/tmp/mnt/new']);
    fs.writeFileSync('/tmp/mnt/new/release', 'version 1\n');
    run('umount', ['/tmp/mnt/new']);
    hashes[`${u}-old`] = deviceSha(disk);
    const store = `${MOUNTS.g}/.snapstore/${u}.store`;
    if (u === 'u2') {
      // Through the CLI, as an update agent calls it.
      const out = JSON.parse(run('node', ['bin/snapstore', 'create', u, '--mode', 'update', '--origin', disk, '--store', store, '--size', '40M', '--state-dir', STATE, '--json']));
      expect(out).toMatchObject({ name: u, mode: 'update', state: 'active', snapshotDevice: `/dev/mapper/snapstore-${u}` });
    } else {
      const r = await createSnapshot({ ...opts, name: u, origin: disk, store, size: parseSize(u === 'u1' ? '56M' : '40M'), chunk, mode: 'update' });
      expect(r.manifest?.origin).toMatchObject({ kernelName: disk.replace('/dev/', ''), sectors: sectorsOf(disk) });
    }
    // The updater writes a new filesystem image into the snapshot.
    const dev = `/dev/mapper/snapstore-${u}`;
    run('mkfs.ext4', ['-qF', '-E', 'nodiscard', dev]);
    run('mount', [dev, '/tmp/mnt/new']);
    run('dpkg-deb', ['-x', debianPackage(), '/tmp/mnt/new']);
    fs.writeFileSync('/tmp/mnt/new/release', 'version 2\n');
    fs.writeFileSync('/tmp/mnt/new/new-data.bin', randomBytes(NEW_MIB[u] << 20));
    run('umount', ['/tmp/mnt/new']);
    if (u === 'u1') scatter(dev);
    hashes[`${u}-new`] = deviceSha(dev);
    expect(hashes[`${u}-new`]).not.toBe(hashes[`${u}-old`]);
    // The origin's hash is unchanged until commit.
    expect(deviceSha(disk)).toBe(hashes[`${u}-old`]);
    const [s] = snapshotStatus({ stateDir: STATE, name: u });
    expect(s).toMatchObject({ mode: 'update', state: 'active', health: 'valid', agrees: true, snapshotDevice: dev });
  });

  test('u1: the commit begins (the kernel merges into the origin) and is cut mid-way: the device suspended, then the power goes', async () => {
    const r = await commitSnapshot({ ...opts, name: 'u1' });
    expect(r.outcome).toBe('merging');
    const first = snapshotStatus({ stateDir: STATE, name: 'u1' })[0]!.mergeRemaining!;
    let now: number = first;
    const deadline = Date.now() + 120_000;
    while (now >= first && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      now = snapshotStatus({ stateDir: STATE, name: 'u1' })[0]!.mergeRemaining ?? 0;
    }
    // Suspending a snapshot-merge stops the merge (dm-snap.c snapshot_merge_presuspend); the boot ends with it so.
    run('dmsetup', ['suspend', 'snapstore-u1']);
    const cut = snapshotStatus({ stateDir: STATE, name: 'u1' })[0]!.mergeRemaining ?? 0;
    hashes['u1-cut'] = `${first} ${cut}`;
    console.log(`u1: the kernel's merge cut with ${cut} of ${first} bytes of exceptions left`);
    expect(cut).toBeGreaterThan(0);
    expect(cut).toBeLessThan(first);
    expect(deviceSha(guestDisk('u1'))).not.toBe(hashes['u1-old']);
  });
});

describe('phase 1c: enrolled partitions', () => {
  afterAll(() => sh(UNMOUNT_ALL));

  test('p: a plain ext4 partition, mounted directly (fstab names it by UUID=), is enrolled by its mount point: recorded now, mapped at the next boot; its fstab line now names the passthrough (CLI)', () => {
    const p = guestDisk('p');
    run('mkfs.ext4', ['-qF', p]);
    fs.mkdirSync(ENROLL.p, { recursive: true });
    run('mount', [p, ENROLL.p]);
    fillWithFiles(ENROLL.p);
    fs.mkdirSync(`${ENROLL.p}/.snapstore`, { mode: 0o700 });
    saveTree('p-before', tree(ENROLL.p));
    const uuid = run('blkid', ['-s', 'UUID', '-o', 'value', p]).trim();
    fs.mkdirSync(`${META}/etc`, { recursive: true, mode: 0o755 });
    fs.writeFileSync(FSTAB, `# the boot's fstab\nUUID=${uuid}  ${ENROLL.p}  ext4  defaults  0  2\n`);
    const out = JSON.parse(run('node', ['bin/snapstore', 'enroll', ENROLL.p, '--name', 'p', '--fstab', FSTAB, '--state-dir', STATE, '--json']));
    expect(out).toMatchObject({ name: 'p', mappedNow: false, lines: [], table: { file: FSTAB, outcome: 'rewritten', after: `/dev/mapper/snapstore-p  ${ENROLL.p}  ext4  defaults  0  2` } });
    expect(fs.readFileSync(FSTAB, 'utf8')).toBe(`# the boot's fstab\n# snapstore enroll "p", before: UUID=${uuid}  ${ENROLL.p}  ext4  defaults  0  2\n/dev/mapper/snapstore-p  ${ENROLL.p}  ext4  defaults  0  2\n`);
    expect(out.message).toMatch(/next boot/);
    expect(run('dmsetup', ['ls'])).not.toMatch(/snapstore-p/);
    // A checkpoint of the partition itself is refused (nothing can go beneath it while it is mounted), naming enroll.
    const r = spawnSync('node', ['bin/snapstore', 'create', 'px', '--origin', p, '--store', `${ENROLL.p}/.snapstore/px.store`, '--size', '8M', '--state-dir', STATE, '--json'], { encoding: 'utf8' });
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'ORIGIN_UNSUPPORTED', hint: expect.stringMatching(/snapstore enroll/) });
    run('umount', [ENROLL.p]);
  });

  test('q: a LUKS2 partition is enrolled, opened from its passthrough with cryptsetup\'s defaults (key in the keyring); its filesystem checkpointed beneath the crypt layer, then updated', async () => {
    const q = guestDisk('q');
    run('cryptsetup', ['luksFormat', '-q', '--type', 'luks2', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-file', KEY, q]);
    const out = JSON.parse(run('node', ['bin/snapstore', 'enroll', q, '--name', 'q', '--state-dir', STATE, '--json']));
    expect(out).toMatchObject({ name: 'q', mappedNow: true });
    expect(out.lines[0]).toBe('crypttab: q-crypt  /dev/mapper/snapstore-q  none  luks');
    openQ();
    expect(run('dmsetup', ['table', 'q-crypt'])).toMatch(/:logon:cryptsetup:/);
    run('mkfs.ext4', ['-qF', '/dev/mapper/q-crypt']);
    fs.mkdirSync(ENROLL.q, { recursive: true });
    run('mount', ['/dev/mapper/q-crypt', ENROLL.q]);
    fillWithFiles(ENROLL.q);
    fs.mkdirSync(`${ENROLL.q}/.snapstore`, { mode: 0o700 });
    saveTree('q-before', tree(ENROLL.q));
    const r = await createSnapshot({ ...opts, name: 'qc', origin: '/dev/mapper/q-crypt', store: `${ENROLL.q}/.snapstore/qc.store`, size: parseSize('48M'), chunk, mode: 'checkpoint' });
    expect(r.manifest).toMatchObject({ state: 'active', origin: { dmName: 'snapstore-q' }, beneath: { crypt: 'q-crypt' } });
    expect(run('dmsetup', ['table', 'snapstore-q'])).toMatch(/snapshot-origin/);
    expect(run('dmsetup', ['table', 'q-crypt'])).toMatch(/:logon:cryptsetup:/);
    update(ENROLL.q);
    saveTree('q-after', tree(ENROLL.q));
    const [s] = snapshotStatus({ stateDir: STATE, name: 'qc' });
    expect(s).toMatchObject({ state: 'active', health: 'valid', agrees: true });
    expect(s!.usage!.used).toBeGreaterThan(2 << 20);
    run('umount', [ENROLL.q]);
    run('cryptsetup', ['close', 'q-crypt']);
  });
});
