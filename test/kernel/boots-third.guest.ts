// Health-gated commit, boot 3: bu's budget is spent without a commit: activate rolls it
// back on its own, before the filesystem is mounted, and the files from before the update
// come back, fsck clean. bh stays committed. bp's cut boot counted: this is attempt 2 of
// 2, healthy, committed.
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { requireGuest, run } from '../vm/guest.js';
import { activation, BMETA, BOOTS, bdev, bmnt, bootSystem, snapstore } from './boots-system.js';
import { fsck, sh, tree } from './lifecycle-helpers.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';
const saved = (key: string, which: 'old' | 'new') => JSON.parse(fs.readFileSync(`${BMETA}/${key}-${which}.json`, 'utf8')) as unknown;

describe('boot counter, boot 3', () => {
  beforeAll(() => bootSystem(false));
  afterAll(() => sh(`umount ${BOOTS.map((b) => bmnt(b.key)).join(' ')} ${BMETA} 2>/dev/null; true`));

  test('bu: 1 boot attempt spent without a commit: activate rolls back on its own; the old files are back, fsck clean; commit now refuses', () => {
    const a = snapstore('bu', ['activate', '--json']);
    expect(a.status, a.said).toBe(0);
    expect(activation(a.json, 'bu'), a.said).toMatchObject({ bootAttempts: { outcome: 'spent', budget: 1 } });
    expect(a.stdout, a.said).toMatch(/spent without a commit: rolling back/);
    const c = snapstore('bu', ['commit', 'bu']);
    expect(c.status, c.said).not.toBe(0);
    const w = snapstore('bu', ['rollback', 'bu', '--wait']);
    expect(w.status, w.said).toBe(0);
    fsck(bdev('bu'), 'ext4');
    run('mount', [bdev('bu'), bmnt('bu')]);
    expect(tree(bmnt('bu'))).toEqual(saved('bu', 'old'));
    run('umount', [bmnt('bu')]);
  });

  test('bh: committed in boot 2: activate has nothing to count; the update stays', () => {
    const a = snapstore('bh', ['activate', '--json']);
    expect(a.status, a.said).toBe(0);
    expect(activation(a.json, 'bh')?.bootAttempts, a.said).toBeUndefined();
    run('mount', [bdev('bh'), bmnt('bh')]);
    expect(tree(bmnt('bh'))).toEqual(saved('bh', 'new'));
    run('umount', [bmnt('bh')]);
  });

  test('bp: the boot cut short counted: attempt 2 of 2; healthy: commit keeps the update', () => {
    const a = snapstore('bp', ['activate', '--json']);
    expect(activation(a.json, 'bp'), a.said).toMatchObject({ action: 'activated', bootAttempts: { outcome: 'counted', used: 2, budget: 2 } });
    run('mount', [bdev('bp'), bmnt('bp')]);
    expect(snapstore('bp', ['commit', 'bp']).status).toBe(0);
    expect(tree(bmnt('bp'))).toEqual(saved('bp', 'new'));
    run('umount', [bmnt('bp')]);
  });
});
