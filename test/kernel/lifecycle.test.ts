// Kernel suite for the lifecycle (src/snapshot): three boots over kept disks,
// so that a reboot really happens between the update and the rollback or
// commit (lifecycle-before.guest.ts, lifecycle-after.guest.ts, and
// lifecycle-third.guest.ts for the enrolled partition's second reboot), then
// the crash matrix with kill -9 (lifecycle-crash.guest.ts). Boots 1 and 2 also
// carry store growth (growth-before/after.guest.ts: the extension hazard across
// a reboot), and boots 1 to 3 the boot counter (boots-*.guest.ts: health-gated
// commit across real reboots), on disks of their own.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { kernelSuite } from '../vm/kernel-suite.js';

const keep = mkdtempSync(join(tmpdir(), 'snapstore-lifecycle-'));
afterAll(() => rmSync(keep, { recursive: true, force: true }));
const disk = (name: string, sizeMiB: number, discard = false) => ({ name, sizeMiB, path: join(keep, `${name}.img`), discard });
const disks = [
  disk('meta', 64),
  disk('a', 256),
  disk('b', 256),
  disk('c', 320),
  disk('d', 256),
  disk('e', 64),
  disk('f', 80),
  disk('g', 320),
  disk('h', 192),
  disk('i', 192),
  disk('u1', 64),
  disk('u2', 64),
  disk('u3', 64),
  disk('p', 128),
  disk('q', 128),
  // growth-*.guest.ts
  disk('gmeta', 32),
  disk('e4on', 192),
  disk('e4off', 192),
  disk('xfon', 320),
  disk('xfoff', 320),
  disk('io', 256, true), // discards reach the image: the discard storm
  disk('sw', 640),
  disk('nr', 128),
  // boots-*.guest.ts: its metadata and three data filesystems on parts of one disk
  disk('bt', 256),
];

await kernelSuite('lifecycle', [
  { files: ['test/kernel/lifecycle-before.guest.ts', 'test/kernel/growth-before.guest.ts', 'test/kernel/boots-before.guest.ts'], disks, timeoutSec: 1200 },
  { files: ['test/kernel/lifecycle-after.guest.ts', 'test/kernel/growth-after.guest.ts', 'test/kernel/boots-after.guest.ts'], disks, timeoutSec: 1200 },
  { files: ['test/kernel/lifecycle-third.guest.ts', 'test/kernel/boots-third.guest.ts'], disks, timeoutSec: 600 },
  {
    files: ['test/kernel/lifecycle-crash.guest.ts'],
    disks: [{ name: 'cmeta', sizeMiB: 64 }, { name: 'craw', sizeMiB: 32 }, { name: 'cg', sizeMiB: 128 }],
    env: process.env['SNAPSTORE_SOAK'] ? { SNAPSTORE_SOAK: '1' } : {},
    timeoutSec: process.env['SNAPSTORE_SOAK'] ? 4 * 3600 : 1200,
  },
]);
