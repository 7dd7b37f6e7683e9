// Power loss in the middle of a rollback's merge, boot 1 (host side:
// lifecycle-power.test.ts; boot 2: power-after.guest.ts): a checkpoint of a
// raw origin, thousands of scattered 4 KiB writes, then the rollback starts
// merging; the test ends and the VM powers off with the kernel still merging.
import { randomBytes, randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createSnapshot } from '../../src/snapshot/create.js';
import { rollbackSnapshot } from '../../src/snapshot/rollback.js';
import { snapshotStatus } from '../../src/snapshot/status.js';
import { bytes, chunkSize } from '../../src/units/units.js';
import { guestDisk, requireGuest, run } from '../vm/guest.js';
import { sh } from './lifecycle-helpers.js';
import { BLOCK, boot, META, opts, SIZE, STATE } from './power-system.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';

describe('boot 1: a rollback starts merging, and the power goes', () => {
  beforeAll(() => {
    run('mkfs.ext4', ['-qF', guestDisk('pmeta')]);
    fs.mkdirSync(META, { recursive: true });
    run('mount', [guestDisk('pmeta'), META]);
    boot();
    run('mkfs.ext4', ['-qF', '/dev/mapper/data-pg']);
    fs.mkdirSync('/tmp/mnt/pg', { recursive: true });
    run('mount', ['/dev/mapper/data-pg', '/tmp/mnt/pg']);
    fs.mkdirSync('/tmp/mnt/pg/.snapstore', { mode: 0o700 });
  });
  afterAll(() => sh(`sync; umount ${META}; true`));

  test('a checkpoint of the origin, then 6,000 scattered 4 KiB writes through it', async () => {
    const old = randomBytes(SIZE);
    const fd = fs.openSync('/dev/mapper/porigin', 'r+');
    fs.writeSync(fd, old, 0, SIZE, 0);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.writeFileSync(`${META}/old.bin`, old);
    await createSnapshot({ ...opts, name: 'p', origin: '/dev/mapper/porigin', store: '/tmp/mnt/pg/.snapstore/p.store', size: bytes(64 << 20), chunk: chunkSize(bytes(BLOCK)), mode: 'checkpoint' });
    const w = fs.openSync('/dev/mapper/porigin', 'r+');
    for (let i = 0; i < 6000; i++) fs.writeSync(w, randomBytes(BLOCK), 0, BLOCK, randomInt(SIZE / BLOCK) * BLOCK);
    fs.fsyncSync(w);
    fs.closeSync(w);
    const [s] = snapshotStatus({ stateDir: STATE, name: 'p' });
    expect(s!.usage!.used).toBeGreaterThan(16 << 20);
  });

  test('the rollback starts merging (the VM powers off right after this test, mid-merge)', async () => {
    const r = await rollbackSnapshot({ ...opts, name: 'p' });
    expect(r.outcome).toBe('merging');
    const [s] = snapshotStatus({ stateDir: STATE, name: 'p' });
    fs.writeFileSync(`${META}/merge-at-start.json`, JSON.stringify({ remaining: s?.mergeRemaining }));
    expect(s?.mergeRemaining).toBeGreaterThan(0);
    sh(`umount ${META}`);
  });
});

