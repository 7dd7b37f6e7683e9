// A store made by LVM against `lvconvert --merge` (runs in the VM, in the same boot as
// cow-merge.guest.ts; host side: cow.test.ts). LVM runs here without udev: activation with
// udev_sync=0 and udev_rules=0 (LVM then makes the /dev nodes itself), no lvmpolld (lvconvert
// polls the merge itself), no metadata backups (the host root is read-only in the guest), and a
// filter that shows LVM the one test disk only.
// The case: a 48 MiB volume of random data, `lvcreate -s -c 8k` (LVM's own COW device,
// `<vg>-<snap>-cow`, and origin `<vg>-<lv>-real`), direct writes through both the origin and
// the snapshot; the snapshot's view is read back; LVM's -real and -cow devices are copied to
// images; `lvconvert --merge` merges on the disk; our offline merge on the copies; the two
// origins must be byte-identical, and equal to the view.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, writeSync, closeSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, test } from 'vitest';
import { guestDisk, requireGuest, run } from '../vm/guest.js';
import { FileIo } from '../../src/blockio/file-io.js';
import { mergeOffline } from '../../src/cow/merge.js';
import { readTable } from '../../src/cow/exception-table.js';
import { copyDevice, directWrite, seeded, shaOf, sizeOf } from './cow-helpers.js';

requireGuest();
const MiB = 1 << 20;
const VG = 'snapstoretest';
const disk = guestDisk('lvm');
const config = [
  `devices { global_filter=["a|^${disk}$|","r|.*|"] use_devicesfile=0 obtain_device_list_from_udev=0 }`,
  'activation { udev_sync=0 udev_rules=0 monitoring=0 }',
  'global { use_lvmpolld=0 }',
  'backup { backup=0 archive=0 }',
].join(' ');
const lvm = (cmd: string, ...args: string[]): string => run(cmd, ['--config', config, ...args]);
mkdirSync('/run/lock/lvm', { recursive: true });
mkdirSync('/run/lvm', { recursive: true });

afterAll(() => {
  execFileSync('vgremove', ['--config', config, '-ff', VG], { stdio: 'ignore' });
});

describe('a store made by LVM (lvcreate -s), merged by lvconvert --merge and by us', () => {
  let viewSha = '';
  let exceptions = 0;
  const imgOrigin = '/tmp/lvm-origin.img';
  const imgCow = '/tmp/lvm-cow.img';

  test('LVM makes a snapshot of a volume, without udev, and records writes through both', () => {
    lvm('pvcreate', '-y', disk);
    lvm('vgcreate', VG, disk);
    lvm('lvcreate', '-y', '-L', '48M', '-n', 'lv', VG);
    const lv = `/dev/${VG}/lv`;
    expect(existsSync(lv)).toBe(true);
    const fd = openSync(lv, 'r+');
    for (let at = 0; at < 48 * MiB; at += 8 * MiB) writeSync(fd, randomBytes(8 * MiB), 0, 8 * MiB, at);
    closeSync(fd);
    lvm('lvcreate', '-y', '-s', '-c', '8k', '-L', '24M', '-n', 'snap', `${VG}/lv`);
    const table = run('dmsetup', ['table', `${VG}-snap`]);
    expect(table).toMatch(/ snapshot \S+ \S+ P 16\s*$/);
    const preSha = shaOf(lv);

    const rand = seeded(33);
    const blocks = (48 * MiB) / 4096;
    for (const [target, big, small] of [
      [lv, 6, 30],
      [`/dev/${VG}/snap`, 2, 10],
    ] as const) {
      for (let i = 0; i < big; i++) directWrite(target, Math.floor(rand() * (blocks - 256)) * 4096, randomBytes(MiB));
      for (let i = 0; i < small; i++) directWrite(target, Math.floor(rand() * blocks) * 4096, randomBytes(4096));
    }
    run('sync');
    viewSha = shaOf(`/dev/${VG}/snap`);
    expect(viewSha).not.toBe(preSha);
    expect(shaOf(lv)).not.toBe(viewSha);

    copyDevice(`/dev/mapper/${VG}-lv-real`, imgOrigin);
    copyDevice(`/dev/mapper/${VG}-snap-cow`, imgCow);
    const store = FileIo.open(imgCow);
    try {
      const t = readTable(store);
      expect(t.chunk.bytes).toBe(8192);
      exceptions = t.exceptions.length;
      // 8 MiB of 1 MiB writes alone touch at least 1,024 chunks of 8 KiB.
      expect(exceptions).toBeGreaterThan(1_024);
    } finally {
      store.close();
    }
  });

  test('our offline merge of LVM\'s store equals lvconvert --merge, byte for byte', () => {
    expect(exceptions).toBeGreaterThan(0);
    const out = lvm('lvconvert', '--merge', '-i', '1', `${VG}/snap`);
    expect(out).toMatch(/finished/);
    expect(run('dmsetup', ['ls'])).not.toContain(`${VG}-snap`);
    const kernelSha = shaOf(`/dev/${VG}/lv`);

    const origin = FileIo.open(imgOrigin, { writable: true });
    const store = FileIo.open(imgCow, { writable: true });
    try {
      const s = mergeOffline(origin, store);
      expect(s.outcome).toBe('merged');
      expect(s.chunks).toBe(exceptions);
    } finally {
      origin.close();
      store.close();
    }
    expect(sizeOf(imgOrigin)).toBe(sizeOf(`/dev/${VG}/lv`));
    const oursSha = shaOf(imgOrigin);
    expect(oursSha).toBe(kernelSha);
    expect(kernelSha).toBe(viewSha);
    rmSync(imgOrigin);
    rmSync(imgCow);
  });
});
