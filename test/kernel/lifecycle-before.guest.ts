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
import { discardSnapshot } from '../../src/snapshot/commit.js';
import { rollbackSnapshot } from '../../src/snapshot/rollback.js';
import { snapshotStatus } from '../../src/snapshot/status.js';
import { bytes, chunkSize, parseSize } from '../../src/units/units.js';
import { guestDisk, requireGuest, run } from '../vm/guest.js';
import { bootDevices, DEVS, KEY, mount, MOUNTS, TYPE } from './lifecycle-system.js';
import { fillWithFiles, loadCrypt, loadTree, META, mountMeta, saveTree, sectorsOf, sh, STATE, tree, update } from './lifecycle-helpers.js';

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
    for (const x of ['a', 'b', 'c', 'd', 'g'] as const) {
      run(TYPE[x] === 'ext4' ? 'mkfs.ext4' : 'mkfs.xfs', [TYPE[x] === 'ext4' ? '-qF' : '-qf', DEVS[x]]);
      mount(x);
      fs.mkdirSync(`${MOUNTS[x]}/.snapstore`, { mode: 0o700 });
    }
  });
  afterAll(() => sh('sync; umount /tmp/mnt/a /tmp/mnt/b /tmp/mnt/c /tmp/mnt/d /tmp/mnt/g 2>/dev/null; true'));

  test.each(['a', 'b', 'c', 'd'] as const)('%s: a checkpoint of real files, then an update while mounted', async (x) => {
    const files = fillWithFiles(MOUNTS[x]);
    expect(files).toBeGreaterThan(2000);
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

