// Growth, boot 2 (in boot 2 of lifecycle.test.ts; boot 1: growth-before.guest.ts): the
// system sets up its passthroughs, `activate` builds each snapshot with its
// grown store (the map as the manifest's last generation has it), and each
// hazard scenario is rolled back with the kernel's merge. With the check,
// every deleted file is back, block for block, and fsck is clean; with the
// check off, the rollback does not bring them all back: the test catches
// what the check prevents.
import * as fs from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import { activateSnapshots } from '../../src/snapshot/activate.js';
import { rollbackSnapshot } from '../../src/snapshot/rollback.js';
import { requireGuest, run } from '../vm/guest.js';
import { bootDevices, dev, fileSha, GMETA as META, GSTATE as STATE, HAZARD, mnt, mountGrowthMeta } from './growth-system.js';
import { fsck, sh } from './lifecycle-helpers.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';
const opts = { stateDir: STATE, log: () => {} };

describe('growth, boot 2', () => {
  beforeAll(async () => {
    mountGrowthMeta(false);
    bootDevices();
    const r = await activateSnapshots(opts);
    // Without the check a snapshot may have been lost already (Invalid): activate says so.
    for (const h of HAZARD) expect(h.check ? ['activated'] : ['activated', 'invalid'], h.key).toContain(r.find((a) => a.name === h.key)?.action);
  });

  test.each(HAZARD)('the extension hazard, $type, check $check: rolled back after the reboot', async ({ key, type, check }) => {
    const hashes = JSON.parse(fs.readFileSync(`${META}/hazard-${key}.json`, 'utf8')) as Record<string, string>;
    let outcome: string;
    try {
      outcome = (await rollbackSnapshot({ ...opts, name: key, wait: true })).outcome;
    } catch (err) {
      outcome = `failed: ${(err as Error).message.split('\n')[0]}`;
    }
    let damaged = 0;
    let fsckClean = true;
    let fsckOut = '';
    if (outcome === 'rolled-back') {
      // Mounted first: xfs replays its log (a snapshot of a frozen xfs keeps one), so that fsck then sees a settled filesystem.
      fs.mkdirSync(mnt(key), { recursive: true });
      run('mount', [dev(key), mnt(key)]);
      try {
        for (const [name, want] of Object.entries(hashes)) {
          const p = `${mnt(key)}/.snapstore/${name}`;
          if (!fs.existsSync(p) || fileSha(p) !== want) damaged++;
        }
      } finally {
        run('umount', [mnt(key)]);
      }
      try {
        fsck(dev(key), type);
      } catch (err) {
        fsckClean = false;
        fsckOut = (err as Error).message.slice(-1500);
      }
    }
    const report = `${key}: rollback ${outcome}; ${damaged} of ${Object.keys(hashes).length} deleted files not back intact; fsck ${fsckClean ? 'clean' : `NOT clean: ${fsckOut}`}; boot 1: ${fs.readFileSync(`${META}/hazard-${key}.report`, 'utf8')}`;
    console.log(report);
    if (check) expect({ outcome, fsckClean, damaged }, report).toEqual({ outcome: 'rolled-back', fsckClean: true, damaged: 0 });
    else expect(outcome !== 'rolled-back' || damaged > 0 || !fsckClean, report).toBe(true);
  });

  test('nothing left behind', () => {
    expect(sh('dmsetup ls').split('\n').filter((l) => HAZARD.some((h) => l.startsWith(`snapstore-${h.key}`)))).toEqual([]);
    run('umount', [META]);
  });
});
