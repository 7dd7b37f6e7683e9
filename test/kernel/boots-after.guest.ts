// Health-gated commit, boot 2: activate counts the first attempt of each snapshot. bu is
// never committed (an unhealthy boot); bh is healthy and committed; bp's activate dies
// right after it counted (the power lost during the boot): nothing else happens for it.
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { requireGuest, run } from '../vm/guest.js';
import { activation, BMETA, BOOTS, bdev, bmnt, bootSystem, snapstore } from './boots-system.js';
import { sh, tree } from './lifecycle-helpers.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';
const newTree = (key: string) => JSON.parse(fs.readFileSync(`${BMETA}/${key}-new.json`, 'utf8')) as unknown;

describe('boot counter, boot 2', () => {
  beforeAll(() => bootSystem(false));
  afterAll(() => sh(`umount ${BOOTS.map((b) => bmnt(b.key)).join(' ')} ${BMETA} 2>/dev/null; true`));

  test('bu (budget 1): activate counts attempt 1 of 1, the last; the system runs the update; no commit (unhealthy)', () => {
    const a = snapstore('bu', ['activate', '--json']);
    expect(a.status, a.said).toBe(0);
    expect(activation(a.json, 'bu'), a.said).toMatchObject({ action: 'activated', bootAttempts: { outcome: 'counted', used: 1, budget: 1 } });
    run('mount', [bdev('bu'), bmnt('bu')]);
    expect(tree(bmnt('bu'))).toEqual(newTree('bu'));
    run('umount', [bmnt('bu')]);
  });

  test('bh (budget 2): activate counts attempt 1 of 2; healthy: commit keeps the update', () => {
    const a = snapstore('bh', ['activate', '--json']);
    expect(activation(a.json, 'bh'), a.said).toMatchObject({ action: 'activated', bootAttempts: { outcome: 'counted', used: 1, budget: 2 } });
    // Activate run again in the same boot (the initramfs and the systemd unit both): no second count.
    const again = snapstore('bh', ['activate', '--json']);
    expect(activation(again.json, 'bh')?.bootAttempts, again.said).toMatchObject({ outcome: 'same-boot', used: 1 });
    run('mount', [bdev('bh'), bmnt('bh')]);
    const c = snapstore('bh', ['commit', 'bh']);
    expect(c.status, c.said).toBe(0);
    expect(tree(bmnt('bh'))).toEqual(newTree('bh'));
    run('umount', [bmnt('bh')]);
  });

  test('bp (budget 2): activate killed right after it counted (the power lost during the boot)', () => {
    const a = snapstore('bp', ['activate'], { SNAPSTORE_TEST_FAULT: 'after:state active' });
    expect(a.signal, a.said).toBe('SIGKILL');
    const s = snapstore('bp', ['status', 'bp', '--json']);
    expect(JSON.stringify(s.json), s.said).toMatch(/"bootAttempts":\{[^}]*"used":1/);
  });
});
