// Health-gated commit, boot 1 (boots 2 and 3: boots-after.guest.ts, boots-third.guest.ts):
// each data filesystem gets files, a checkpoint with a boot budget, then the update.
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { requireGuest, run } from '../vm/guest.js';
import { BMETA, BOOTS, bdev, bmnt, bootSystem, snapstore } from './boots-system.js';
import { sh, tree } from './lifecycle-helpers.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';

describe('boot counter, boot 1: a checkpoint with a boot budget, then the update', () => {
  beforeAll(() => bootSystem(true));
  afterAll(() => sh(`umount ${BOOTS.map((b) => bmnt(b.key)).join(' ')} ${BMETA} 2>/dev/null; true`));

  test.each(BOOTS)('$key: create --boot-attempts $budget, the update written; status shows 0 of $budget used', ({ key, budget }) => {
    run('mkfs.ext4', ['-q', '-F', bdev(key)]);
    fs.mkdirSync(bmnt(key), { recursive: true });
    run('mount', [bdev(key), bmnt(key)]);
    fs.mkdirSync(`${bmnt(key)}/.snapstore`, { mode: 0o700 });
    for (let i = 0; i < 4; i++) fs.writeFileSync(`${bmnt(key)}/old-${i}`, `${key} file ${i}, before the update\n`.repeat(1000));
    sh('sync');
    fs.writeFileSync(`${BMETA}/${key}-old.json`, JSON.stringify(tree(bmnt(key))));
    const c = snapstore(key, ['create', key, '--origin', bdev(key), '--store', `${bmnt(key)}/.snapstore/${key}.store`, '--size', '16M', '--boot-attempts', String(budget)]);
    expect(c.status, c.said).toBe(0);
    // The update: a file changed, one deleted, one added.
    fs.writeFileSync(`${bmnt(key)}/old-0`, 'changed by the update\n');
    fs.rmSync(`${bmnt(key)}/old-1`);
    fs.writeFileSync(`${bmnt(key)}/new`, 'added by the update\n');
    sh('sync');
    fs.writeFileSync(`${BMETA}/${key}-new.json`, JSON.stringify(tree(bmnt(key))));
    const s = snapstore(key, ['status', key, '--json']);
    expect(s.status, s.said).toBe(0);
    expect(JSON.stringify(s.json), s.said).toMatch(new RegExp(`"bootAttempts":\\{[^}]*"budget":${budget}`));
    expect(JSON.stringify(s.json), s.said).toMatch(/"bootAttempts":\{[^}]*"used":0/);
    run('umount', [bmnt(key)]);
  });
});
