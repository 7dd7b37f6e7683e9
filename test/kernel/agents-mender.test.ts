// Kernel suite: Mender 3.4 in standalone mode runs examples/mender's state scripts
// on a real checkpoint, across a reboot (agents-mender-before/after.guest.ts; the
// device they set up: agents-mender-system.ts); in boot 2, examples/greenboot's
// scripts on a real checkpoint too.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { kernelSuite } from '../vm/kernel-suite.js';

const keep = mkdtempSync(join(tmpdir(), 'snapstore-mender-'));
afterAll(() => rmSync(keep, { recursive: true, force: true }));
const disks = [
  { name: 'mmeta', sizeMiB: 64, path: join(keep, 'mmeta.img') },
  { name: 'mdata', sizeMiB: 128, path: join(keep, 'mdata.img') },
];

await kernelSuite('Mender', [
  { files: ['test/kernel/agents-mender-before.guest.ts'], disks, timeoutSec: 600 },
  { files: ['test/kernel/agents-mender-after.guest.ts'], disks, timeoutSec: 600 },
]);
