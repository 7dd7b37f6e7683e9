// Power loss in the middle of a rollback's merge, boot 2: the store still
// holds part of its table (the power cut came mid-merge); activate resumes
// the merge; the origin is suspended and resumed 20 times at random 0-500 ms
// intervals while it merges; when it ends, every 4 KiB block of the origin
// equals the contents before the checkpoint.
import { randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { activateSnapshots } from '../../src/snapshot/activate.js';
import { rollbackSnapshot } from '../../src/snapshot/rollback.js';
import { inspectSource } from '../../src/store/offline.js';
import { guestDisk, requireGuest, run } from '../vm/guest.js';
import { sh } from './lifecycle-helpers.js';
import { BLOCK, boot, META, opts, readAll, SIZE, STATE } from './power-system.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';

describe('boot 2: the merge resumes at activate and ends right, through 20 interruptions', () => {
  beforeAll(() => {
    fs.mkdirSync(META, { recursive: true });
    run('mount', [guestDisk('pmeta'), META]);
    boot();
  });
  afterAll(() => sh(`umount ${META}; true`));

  test('the power cut came mid-merge: the store still holds part of its table', async () => {
    const r = await inspectSource({ store: 'p', stateDir: STATE });
    expect(r.written).toBe(true);
    if (!r.written) return;
    const atStart = JSON.parse(fs.readFileSync(`${META}/merge-at-start.json`, 'utf8')) as { remaining: number };
    console.log(`exceptions left after the power cut: ${r.exceptions} (${(r.exceptions * BLOCK) >> 20} MiB of ${atStart.remaining >> 20} MiB when the merge started)`);
    expect(r.exceptions).toBeGreaterThan(0);
  });

  test('activate resumes the merge; suspended and resumed 20 times at random, it ends with every block as before the checkpoint', async () => {
    const a = await activateSnapshots(opts);
    expect(a[0]?.action).toBe('merging');
    expect(run('dmsetup', ['table', 'porigin'])).toMatch(/snapshot-merge/);
    for (let i = 0; i < 20; i++) {
      await sleep(randomInt(501));
      run('dmsetup', ['suspend', 'porigin']);
      run('dmsetup', ['resume', 'porigin']);
    }
    const r = await rollbackSnapshot({ ...opts, name: 'p', wait: true });
    expect(r.outcome).toBe('rolled-back');
    const old = fs.readFileSync(`${META}/old.bin`);
    sh('echo 3 > /proc/sys/vm/drop_caches');
    const now = readAll('/dev/mapper/porigin');
    let differing = 0;
    for (let at = 0; at < SIZE; at += BLOCK) if (!now.subarray(at, at + BLOCK).equals(old.subarray(at, at + BLOCK))) differing++;
    console.log(`4 KiB blocks compared: ${SIZE / BLOCK}, differing: ${differing}`);
    expect(differing).toBe(0);
    expect(run('dmsetup', ['table', 'porigin'])).toMatch(/ linear /);
  });
});
