// Update agents, boot 1 (boot 2: agents-after.guest.ts): real installs run the hooks of
// examples/ as they are. RAUC: `rauc install` of a signed bundle makes the checkpoint in
// its pre-install handler (after cleaning what a failed install left); on rbad the new
// slot's boot is played here (the kernel command line names slot B), its migration
// writes the data, its health check fails and snapstore-rauc-mark-bad runs. SWUpdate:
// `swupdate -i` of a signed .swu runs snapstore-swupdate-pre (preupdatecmd); on sbad the
// new system's boot is played the same way and snapstore-swupdate-failed runs.
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { requireGuest } from '../vm/guest.js';
import { tree } from './lifecycle-helpers.js';
import { agentRun, bootAgents, bootedSlot, checkpoint, dataMnt, example, grubEnv, makeRaucDevice, makeSwuDevice, makeTestPki, migrate, raucBundle, raucInstall, raucService, saveData, savedData, setGrubEnv, swu, swupdate, withBoot } from './agents-system.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';
let shutdown = (): void => {};

beforeAll(() => {
  shutdown = bootAgents(true);
  makeTestPki();
});
afterAll(() => shutdown());

describe('RAUC, boot 1: the install makes the checkpoint', () => {
  test('rgood: an install that fails after pre-install leaves its checkpoint; the next install discards it and makes its own', () => {
    makeRaucDevice('rgood');
    saveData('rgood', 'old');
    const stop = raucService('rgood', 'A');
    try {
      const bad = raucInstall('rgood', raucBundle('broken', true));
      expect(bad.status, bad.said).not.toBe(0);
      expect(checkpoint('rgood', 'rauc-B'), bad.said).toMatchObject({ state: 'active', bootAttempts: { used: 0, budget: 1 } });
      const t0 = performance.now();
      const ok = raucInstall('rgood', raucBundle('v2'));
      console.log(`rauc install with the pre-install handler: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      expect(ok.status, ok.said).toBe(0);
      expect(ok.said).toMatch(/discarding rgood-rauc-B: left by an earlier install that never reached its reboot/);
      expect(checkpoint('rgood', 'rauc-B')).toMatchObject({ state: 'active', bootAttempts: { used: 0, budget: 1 } });
      expect(bootedSlot('rgood')).toBe('B');
    } finally {
      stop();
    }
  });

  test('rbad: the install makes the checkpoint; the new slot migrates the data, fails its health check: mark-bad marks it bad and records the rollback', () => {
    makeRaucDevice('rbad');
    saveData('rbad', 'old');
    let stop = raucService('rbad', 'A');
    try {
      const ok = raucInstall('rbad', raucBundle('v2'));
      expect(ok.status, ok.said).toBe(0);
      expect(checkpoint('rbad', 'rauc-B')).toMatchObject({ state: 'active' });
    } finally {
      stop();
    }
    // The new slot's boot, played: B boots, its migration writes the data.
    expect(bootedSlot('rbad')).toBe('B');
    stop = raucService('rbad', 'B');
    try {
      migrate('rbad');
      expect(tree(dataMnt('rbad'))).not.toEqual(savedData('rbad', 'old'));
      const bad = agentRun('rbad', example('rauc/snapstore-rauc-mark-bad'), []);
      expect(bad.status, bad.said).toBe(0);
      expect(checkpoint('rbad', 'rauc-B')?.state, bad.said).toBe('rollback-pending');
      expect(bootedSlot('rbad')).toBe('A');
      const commit = agentRun('rbad', example('rauc/snapstore-rauc-commit'), []);
      expect(commit.said).toMatch(/not committing: RAUC records the booted slot \('B'\) as bad/);
    } finally {
      stop();
    }
  });

  test('rfail: an install that fails after pre-install leaves its checkpoint and slot A primary (the reboot comes before another install)', () => {
    makeRaucDevice('rfail');
    const stop = raucService('rfail', 'A');
    try {
      const bad = raucInstall('rfail', raucBundle('broken', true));
      expect(bad.status, bad.said).not.toBe(0);
    } finally {
      stop();
    }
    expect(checkpoint('rfail', 'rauc-B')).toMatchObject({ state: 'active', bootAttempts: { used: 0, budget: 1 } });
    expect(bootedSlot('rfail')).toBe('A');
    fs.writeFileSync(`${dataMnt('rfail')}/app/written-after`, 'the running system wrote this after the failed install\n');
    saveData('rfail', 'kept');
  });
});

describe('SWUpdate, boot 1: the install makes the checkpoint', () => {
  test('sgood: an install that fails leaves its checkpoint (ustate 3); the next install discards it and makes its own (ustate 1)', () => {
    makeSwuDevice('sgood');
    saveData('sgood', 'old');
    withBoot('sgood', () => {
      const bad = swupdate('sgood', swu('sgood', 'broken', true));
      expect(bad.status, bad.said).not.toBe(0);
      expect(grubEnv('sgood')).toMatchObject({ ustate: '3' });
      expect(checkpoint('sgood', 'swupdate'), bad.said).toMatchObject({ state: 'active', bootAttempts: { used: 0, budget: 1 } });
      const t0 = performance.now();
      const ok = swupdate('sgood', swu('sgood', 'v2'));
      console.log(`swupdate -i with the preupdatecmd: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      expect(ok.status, ok.said).toBe(0);
      expect(ok.said).toMatch(/discarding sgood-swupdate: left by an earlier install that never reached its reboot/);
      expect(grubEnv('sgood')).toMatchObject({ ustate: '1' });
      expect(checkpoint('sgood', 'swupdate')).toMatchObject({ state: 'active', bootAttempts: { used: 0, budget: 1 } });
    });
  });

  test('sbad: the install makes the checkpoint; the new system migrates the data, fails its health check: snapstore-swupdate-failed records the rollback', () => {
    makeSwuDevice('sbad');
    saveData('sbad', 'old');
    withBoot('sbad', () => {
      const ok = swupdate('sbad', swu('sbad', 'v2'));
      expect(ok.status, ok.said).toBe(0);
      expect(checkpoint('sbad', 'swupdate')).toMatchObject({ state: 'active' });
      // The new system's boot, played: its migration writes the data, its health check fails.
      migrate('sbad');
      expect(tree(dataMnt('sbad'))).not.toEqual(savedData('sbad', 'old'));
      for (const run of [1, 2]) {
        const failed = agentRun('sbad', example('swupdate/snapstore-swupdate-failed'), []);
        expect(failed.status, `run ${run}: ${failed.said}`).toBe(0);
        expect(checkpoint('sbad', 'swupdate')?.state, failed.said).toBe('rollback-pending');
      }
      setGrubEnv('sbad', { ustate: '3' }); // the device's failure path: back to the old copy
    });
  });
});
