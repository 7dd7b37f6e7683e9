// Mender, boot 1 (boot 2: agents-mender-after.guest.ts): a real `mender install` of an
// artifact made by mender-artifact runs examples/mender's scripts: the checkpoint is
// taken before the update changes the data; `mender rollback` rolls it back, which
// waits for the next boot (the data filesystem is mounted). The scripts run again by
// themselves, as after a power loss, change nothing.
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { requireGuest, run } from '../vm/guest.js';
import { snapshotStatus } from '../../src/snapshot/status.js';
import { artifact, checkpoint, fillData, MDATA, MMETA, mender, menderDevice, ORIGIN, script, SLOT, STATE, undoDevice } from './agents-mender-system.js';
import { tree } from './lifecycle-helpers.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';

describe('Mender, boot 1: install, then rollback', () => {
  let before: ReturnType<typeof tree>;
  beforeAll(() => {
    menderDevice(true);
    run('mkfs.ext4', ['-q', '-F', ORIGIN]);
    run('mount', [ORIGIN, MDATA]);
    fillData();
    before = tree(MDATA);
    fs.writeFileSync(`${MMETA}/before.json`, JSON.stringify(before));
  });
  afterAll(() => undoDevice());

  test('mender install: ArtifactInstall_Enter_50_snapstore takes the checkpoint before the migration changes the data', () => {
    const r = mender('install', artifact(1));
    expect(r.status, r.said).toBe(0);
    expect(checkpoint()).toMatchObject({ state: 'active', health: 'valid', store: `${MDATA}/.snapstore/mender.store` });
    expect(fs.readFileSync(`${SLOT}/app`, 'utf8')).toBe('app version 1\n');
    expect(fs.readFileSync(`${MDATA}/settings`, 'utf8')).toBe('settings of version 1\n');
    expect(fs.existsSync(`${MDATA}/cache-0`)).toBe(false);
    // The snapshot device shows the data as it was when the script ran: before the migration.
    fs.mkdirSync('/tmp/mnt/mold', { recursive: true });
    run('mount', ['-o', 'ro,noload', '/dev/mapper/snapstore-mender-snap', '/tmp/mnt/mold']);
    try {
      expect(tree('/tmp/mnt/mold')).toEqual(before);
    } finally {
      run('umount', ['/tmp/mnt/mold']);
    }
  });

  test('ArtifactInstall_Enter_50_snapstore run again (a power loss) keeps the checkpoint: still one, the same store', () => {
    const r = script('ArtifactInstall_Enter_50_snapstore');
    expect(r.status, r.said).toBe(0);
    expect(r.said).toMatch(/checkpoint "mender" is there already .*: kept/);
    expect(snapshotStatus({ stateDir: STATE })).toHaveLength(1);
    expect(fs.readdirSync(`${MDATA}/.snapstore`)).toEqual(['mender.store']);
  });

  test('mender rollback: ArtifactRollback_Enter_50_snapstore records the rollback for the next boot; ArtifactFailure_Enter_50_snapstore keeps it so', () => {
    const r = mender('rollback');
    expect(r.status, r.said).toBe(0);
    expect(fs.readFileSync(`${SLOT}/app`, 'utf8')).toBe('app version 0\n');
    expect(checkpoint().state).toBe('rollback-pending');
    // Until the reboot the data stays as the update left it, and the snapshot keeps recording.
    expect(fs.readFileSync(`${MDATA}/settings`, 'utf8')).toBe('settings of version 1\n');
  });

  test('the rollback and failure scripts run again (a power loss) succeed and change nothing', () => {
    for (const s of ['ArtifactRollback_Enter_50_snapstore', 'ArtifactFailure_Enter_50_snapstore'] as const) {
      const r = script(s);
      expect(r.status, r.said).toBe(0);
      expect(checkpoint().state, s).toBe('rollback-pending');
    }
  });
});
