// Guest side of the lifecycle suite, boot 3 (after lifecycle-before and
// lifecycle-after): the checkpoint of the enrolled partition p, taken in boot
// 2 over its passthrough, rolled back after this reboot; then p unenrolled:
// the partition itself mounts again, as it was.
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { activateSnapshots } from '../../src/snapshot/activate.js';
import { unenrollDevice } from '../../src/snapshot/enroll.js';
import { recoverSnapshots } from '../../src/snapshot/recover.js';
import { rollbackSnapshot } from '../../src/snapshot/rollback.js';
import { guestDisk, requireGuest, run } from '../vm/guest.js';
import { fsck, loadTree, mountMeta, sh, STATE, tree } from './lifecycle-helpers.js';
import { bootDevices, ENROLL, FSTAB, UNMOUNT_ALL } from './lifecycle-system.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';
const opts = { stateDir: STATE, log: () => {} };

describe('phase 3: the enrolled partition after another reboot', () => {
  beforeAll(() => {
    mountMeta(false);
    bootDevices();
  });
  afterAll(() => sh(UNMOUNT_ALL));

  test('activate maps the enrolled partitions, then rebuilds the checkpoint over p; the rollback brings the old files back, fsck clean', async () => {
    const r = await activateSnapshots(opts);
    const by = Object.fromEntries(r.filter((x) => x.action !== 'nothing').map((x) => [x.name, x.action]));
    expect(by).toEqual({ p: 'mapped', q: 'mapped', pc: 'activated' });
    const rb = await rollbackSnapshot({ ...opts, name: 'pc', wait: true });
    expect(rb.outcome).toBe('rolled-back');
    fs.mkdirSync(ENROLL.p, { recursive: true });
    run('mount', ['/dev/mapper/snapstore-p', ENROLL.p]);
    expect(tree(ENROLL.p)).toEqual(loadTree('p-before'));
    await recoverSnapshots(opts);
    expect(fs.readdirSync(`${ENROLL.p}/.snapstore`)).toEqual([]);
    run('umount', [ENROLL.p]);
    fsck('/dev/mapper/snapstore-p', 'ext4');
  });

  test('unenroll: the passthroughs go; the fstab line enroll replaced is back, and the partition itself mounts from it again, as it was (CLI)', async () => {
    const out = JSON.parse(run('node', ['bin/snapstore', 'unenroll', 'p', '--fstab', FSTAB, '--state-dir', STATE, '--json']));
    expect(out).toMatchObject({ name: 'p', removedNow: true, restored: { file: FSTAB, line: expect.stringMatching(/^UUID=\S+  \/tmp\/mnt\/p  ext4/) } });
    expect(fs.readFileSync(FSTAB, 'utf8')).toBe(`# the boot's fstab\n${out.restored.line}\n`);
    expect((await unenrollDevice({ ...opts, name: 'q' })).removedNow).toBe(true);
    expect(run('dmsetup', ['ls'])).not.toMatch(/snapstore-/);
    run('mount', ['--fstab', FSTAB, ENROLL.p]);
    expect(run('findmnt', ['-n', '-o', 'SOURCE', ENROLL.p]).trim()).toBe(guestDisk('p'));
    expect(tree(ENROLL.p)).toEqual(loadTree('p-before'));
    run('umount', [ENROLL.p]);
    fsck(guestDisk('p'), 'ext4');
    expect((await activateSnapshots(opts)).filter((x) => x.action !== 'nothing')).toEqual([]);
  });
});
