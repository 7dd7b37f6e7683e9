// Kernel suite for store growth (src/snapshot/extend.ts, src/watch): two boots
// over kept disks, so that the grown stores are activated after a real reboot
// and rolled back there (growth-before.guest.ts, growth-after.guest.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { kernelSuite } from '../vm/kernel-suite.js';

const keep = mkdtempSync(join(tmpdir(), 'snapstore-growth-'));
afterAll(() => rmSync(keep, { recursive: true, force: true }));
const disk = (name: string, sizeMiB: number) => ({ name, sizeMiB, path: join(keep, `${name}.img`) });
const disks = [disk('meta', 64), disk('e4on', 192), disk('e4off', 192), disk('xfon', 320), disk('xfoff', 320), disk('io', 256), disk('sw', 768), disk('nr', 128)];

await kernelSuite('growth', [
  { files: ['test/kernel/growth-before.guest.ts'], disks, timeoutSec: 900 },
  { files: ['test/kernel/growth-after.guest.ts'], disks, timeoutSec: 600 },
]);
