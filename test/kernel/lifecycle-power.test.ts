// Kernel suite: power loss in the middle of a rollback's merge, the merge
// interrupted 20 times, and the state directory on a disk that drops
// unflushed writes (power-before/after.guest.ts, statedir-cut.guest.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { kernelSuite } from '../vm/kernel-suite.js';

const keep = mkdtempSync(join(tmpdir(), 'snapstore-power-'));
afterAll(() => rmSync(keep, { recursive: true, force: true }));
const disk = (name: string, sizeMiB: number) => ({ name, sizeMiB, path: join(keep, `${name}.img`) });
const disks = [disk('pmeta', 128), disk('porigin', 48), disk('pg', 160)];

await kernelSuite('power loss', [
  {
    files: ['test/kernel/statedir-cut.guest.ts', 'test/kernel/power-before.guest.ts'],
    disks: [...disks, { name: 'flaky', sizeMiB: 64 }],
    env: process.env['STATEDIR_CUTS'] ? { STATEDIR_CUTS: process.env['STATEDIR_CUTS'] } : {},
    timeoutSec: process.env['STATEDIR_CUTS'] ? 3600 : 900,
  },
  { files: ['test/kernel/power-after.guest.ts'], disks, timeoutSec: 900 },
]);
