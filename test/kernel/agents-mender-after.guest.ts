// Mender, boot 2 (boot 1: agents-mender-before.guest.ts): `snapstore activate`, as the
// boot runs it before the data filesystem is mounted, merges the rollback boot 1
// recorded: the data is as before the first update, fsck clean. A second
// `mender install` waits for that merge, takes a new checkpoint, and `mender commit`
// keeps the update and deletes the store. Then examples/greenboot's scripts on a real
// checkpoint of the same filesystem.
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { requireGuest, run } from '../vm/guest.js';
import { artifact, checkpoint, greenboot, MDATA, MMETA, mender, menderDevice, ORIGIN, script, SLOT, snapstore, undoDevice } from './agents-mender-system.js';
import { fsck, tree } from './lifecycle-helpers.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';

describe('Mender, boot 2: the rollback merged at boot, then install and commit', () => {
  beforeAll(() => menderDevice(false));
  afterAll(() => undoDevice());

  test('activate at boot merges the rollback: fsck clean, the data as before the first install', () => {
    const a = snapstore('activate');
    expect(a.status, a.said).toBe(0);
    expect(checkpoint().state).toBe('merging');
    fsck(ORIGIN, 'ext4');
    run('mount', [ORIGIN, MDATA]);
    expect(tree(MDATA)).toEqual(JSON.parse(fs.readFileSync(`${MMETA}/before.json`, 'utf8')));
  });

  test('a second mender install waits for that merge to finish, then takes a new checkpoint', () => {
    const r = mender('install', artifact(2));
    expect(r.status, r.said).toBe(0);
    expect(checkpoint()).toMatchObject({ state: 'active', health: 'valid' });
    expect(fs.readFileSync(`${SLOT}/app`, 'utf8')).toBe('app version 2\n');
    expect(fs.readFileSync(`${MDATA}/settings`, 'utf8')).toBe('settings of version 2\n');
  });

  test('mender commit: ArtifactCommit_Leave_50_snapstore keeps the data and deletes the store; run again it succeeds', () => {
    const updated = tree(MDATA);
    const r = mender('commit');
    expect(r.status, r.said).toBe(0);
    expect(checkpoint()).toMatchObject({ state: 'committed', store: null });
    expect(fs.readdirSync(`${MDATA}/.snapstore`)).toEqual([]);
    expect(tree(MDATA)).toEqual(updated);
    expect(mender('show-artifact').said).toMatch(/^app-v2$/m);
    const again = script('ArtifactCommit_Leave_50_snapstore');
    expect(again.status, again.said).toBe(0);
    expect(again.said).toMatch(/already committed/);
    run('umount', [MDATA]);
    fsck(ORIGIN, 'ext4');
  });

  test('greenboot, on a real checkpoint: staged, the checkpoint taken (kept when staged again); green.d commits it; staged again, red.d rolls it back', () => {
    run('mount', [ORIGIN, MDATA]);
    for (const again of [false, true]) {
      const c = greenboot('examples/greenboot/snapstore-ostree', 'checkpoint');
      expect(c.status, c.said).toBe(0);
      if (again) expect(c.said).toMatch(/is there already .*: kept/);
    }
    expect(checkpoint('ostree').state).toBe('active');
    const green = greenboot('examples/greenboot/green.d/50-snapstore-commit.sh');
    expect(green.status, green.said).toBe(0);
    expect(checkpoint('ostree')).toMatchObject({ state: 'committed', store: null });
    const c = greenboot('examples/greenboot/snapstore-ostree', 'checkpoint');
    expect(c.status, c.said).toBe(0);
    const red = greenboot('examples/greenboot/red.d/50-snapstore-rollback.sh');
    expect(red.status, red.said).toBe(0);
    expect(checkpoint('ostree').state).toBe('rollback-pending');
  });
});
