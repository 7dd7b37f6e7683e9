// Kernel suite: the update agents RAUC and SWUpdate, their real clients running the
// hooks of examples/ as they are, across one reboot on kept disks (agents-before and
// agents-after.guest.ts; the devices in agents-system.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { kernelSuite } from '../vm/kernel-suite.js';

const keep = mkdtempSync(join(tmpdir(), 'snapstore-agents-'));
afterAll(() => rmSync(keep, { recursive: true, force: true }));
const disks = [{ name: 'ag', sizeMiB: 384, path: join(keep, 'ag.img') }];

await kernelSuite('update agents', [
  { files: ['test/kernel/agents-before.guest.ts'], disks, timeoutSec: 600 },
  { files: ['test/kernel/agents-after.guest.ts'], disks, timeoutSec: 600 },
]);
