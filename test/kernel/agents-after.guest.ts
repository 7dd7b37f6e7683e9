// Update agents, boot 2 (boot 1: agents-before.guest.ts): the boot's activate runs first,
// before any data filesystem is mounted, as snapstore-activate.service does. RAUC: rgood
// boots the new slot B, which migrates the data, is marked good and committed by
// snapstore-rauc-commit; rbad boots A (B was marked bad) and its data comes back as
// before the install, fsck clean; rfail's failed install is cleaned at A's healthy boot.
// SWUpdate: sgood's new system is committed once its health check reset ustate; sbad's
// data comes back.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { requireGuest, run } from '../vm/guest.js';
import { agentRun, bootAgents, bootedSlot, activate, checkpoint, dataDev, dataMnt, example, finishRollback, migrate, raucBundle, raucInstall, raucService, saveData, savedData, setGrubEnv, withBoot } from './agents-system.js';
import { fsck, tree } from './lifecycle-helpers.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';
let shutdown = (): void => {};

beforeAll(() => {
  shutdown = bootAgents(false);
});
afterAll(() => shutdown());

describe('RAUC, boot 2', () => {
  test('rgood: B boots (attempt 1 of 1), migrates the data; an install while it is on trial is refused; marked good, committed; the commit reruns harmlessly', async () => {
    expect(bootedSlot('rgood')).toBe('B');
    expect(await activate('rgood', 'rauc-B')).toMatchObject({ action: 'activated', bootAttempts: { outcome: 'counted', used: 1 } });
    run('mount', [dataDev('rgood'), dataMnt('rgood')]);
    migrate('rgood');
    saveData('rgood', 'new');
    const stop = raucService('rgood', 'B');
    try {
      const refused = raucInstall('rgood', raucBundle('v2'));
      expect(refused.status, refused.said).not.toBe(0);
      expect(refused.said).toMatch(/refusing the update: checkpoint rgood-rauc-B of an earlier update is active after 1 boot\(s\)/);
      const good = agentRun('rgood', 'rauc', ['status', 'mark-good', 'booted']);
      expect(good.status, good.said).toBe(0);
      const c = agentRun('rgood', example('rauc/snapstore-rauc-commit'), []);
      expect(c.status, c.said).toBe(0);
      expect(checkpoint('rgood', 'rauc-B')?.state, c.said).toBe('committed');
      const again = agentRun('rgood', example('rauc/snapstore-rauc-commit'), []);
      expect(again.status, again.said).toBe(0);
      expect(again.said).toMatch(/no checkpoint rgood-rauc-B to commit/);
    } finally {
      stop();
    }
    expect(tree(dataMnt('rgood'))).toEqual(savedData('rgood', 'new'));
    run('umount', [dataMnt('rgood')]);
    fsck(dataDev('rgood'), 'ext4');
  });

  test('rbad: the bootloader boots A; activate merges the recorded rollback before the mount; the data is as before the install, fsck clean; nothing to commit in A', async () => {
    expect(bootedSlot('rbad')).toBe('A');
    expect((await activate('rbad', 'rauc-B'))?.action).toBe('merge-started');
    await finishRollback('rbad', 'rauc-B');
    expect(checkpoint('rbad', 'rauc-B')?.state).toBe('rolled-back');
    fsck(dataDev('rbad'), 'ext4');
    run('mount', [dataDev('rbad'), dataMnt('rbad')]);
    expect(tree(dataMnt('rbad'))).toEqual(savedData('rbad', 'old'));
    const stop = raucService('rbad', 'A');
    try {
      const c = agentRun('rbad', example('rauc/snapstore-rauc-commit'), []);
      expect(c.status, c.said).toBe(0);
      expect(c.said).toMatch(/no checkpoint rbad-rauc-A to commit/);
    } finally {
      stop();
    }
    run('umount', [dataMnt('rbad')]);
  });

  test('rfail: A boots again (attempt 1 of 1 counted on the failed install\'s checkpoint); A is good: the commit unit discards that checkpoint, and the data A wrote stays', async () => {
    expect(bootedSlot('rfail')).toBe('A');
    expect(await activate('rfail', 'rauc-B')).toMatchObject({ bootAttempts: { outcome: 'counted', used: 1 } });
    run('mount', [dataDev('rfail'), dataMnt('rfail')]);
    const stop = raucService('rfail', 'A');
    try {
      expect(agentRun('rfail', 'rauc', ['status', 'mark-good', 'booted']).status).toBe(0);
      const c = agentRun('rfail', example('rauc/snapstore-rauc-commit'), []);
      expect(c.status, c.said).toBe(0);
      expect(c.said).toMatch(/discarding rfail-rauc-B: its install never switched to slot B/);
      expect(checkpoint('rfail', 'rauc-B')?.state, c.said).toBe('discarded');
    } finally {
      stop();
    }
    expect(tree(dataMnt('rfail'))).toEqual(savedData('rfail', 'kept'));
    run('umount', [dataMnt('rfail')]);
  });
});

describe('SWUpdate, boot 2', () => {
  test('sgood: the new system boots (attempt 1 of 1), migrates the data; no commit while ustate is 1; its health check resets ustate: committed', async () => {
    expect(await activate('sgood', 'swupdate')).toMatchObject({ action: 'activated', bootAttempts: { outcome: 'counted', used: 1 } });
    run('mount', [dataDev('sgood'), dataMnt('sgood')]);
    migrate('sgood');
    saveData('sgood', 'new');
    withBoot('sgood', () => {
      const early = agentRun('sgood', example('swupdate/snapstore-swupdate-commit'), []);
      expect(early.status, early.said).toBe(0);
      expect(early.said).toMatch(/not committing sgood-swupdate: SWUpdate's ustate is 1/);
      expect(checkpoint('sgood', 'swupdate')?.state).toBe('active');
      setGrubEnv('sgood', { ustate: '0' }); // the device's health check passed
      const c = agentRun('sgood', example('swupdate/snapstore-swupdate-commit'), []);
      expect(c.status, c.said).toBe(0);
      expect(checkpoint('sgood', 'swupdate')?.state, c.said).toBe('committed');
    });
    expect(tree(dataMnt('sgood'))).toEqual(savedData('sgood', 'new'));
    run('umount', [dataMnt('sgood')]);
    fsck(dataDev('sgood'), 'ext4');
  });

  test('sbad: activate merges the recorded rollback before the mount; the data is as before the install, fsck clean; the commit unit has nothing to do', async () => {
    expect((await activate('sbad', 'swupdate'))?.action).toBe('merge-started');
    await finishRollback('sbad', 'swupdate');
    fsck(dataDev('sbad'), 'ext4');
    run('mount', [dataDev('sbad'), dataMnt('sbad')]);
    expect(tree(dataMnt('sbad'))).toEqual(savedData('sbad', 'old'));
    withBoot('sbad', () => {
      const c = agentRun('sbad', example('swupdate/snapstore-swupdate-commit'), []);
      expect(c.status, c.said).toBe(0);
      expect(c.said).toMatch(/no checkpoint sbad-swupdate to commit/);
    });
    run('umount', [dataMnt('sbad')]);
  });
});
