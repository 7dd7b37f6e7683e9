// Kernel smoke suite: proves the VM test bed (test/vm/README.md). Two boots in all:
//   boot 1: smoke.guest.ts (dm, targets, ext4/xfs/loop) and the reboot check's write;
//   boot 2: the reboot check's read, on the same kept disk image.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { kernelSuite } from '../vm/kernel-suite.js';
import { pattern, PATTERN_LENGTH, PATTERN_OFFSET } from './smoke-pattern.js';

const keepDir = mkdtempSync(join(tmpdir(), 'snapstore-smoke-'));
const keep = { name: 'keep', sizeMiB: 16, path: join(keepDir, 'keep.img') };
const seed = randomBytes(16).toString('hex');
afterAll(() => rmSync(keepDir, { recursive: true, force: true }));

await kernelSuite('kernel smoke', [
  {
    files: ['test/kernel/smoke.guest.ts', 'test/kernel/smoke-reboot.guest.ts'],
    disks: [{ name: 'linear', sizeMiB: 64 }, { name: 'mkfs', sizeMiB: 320 }, keep],
    env: { SMOKE_SEED: seed, SMOKE_PHASE: 'write' },
  },
  {
    files: ['test/kernel/smoke-reboot.guest.ts'],
    disks: [keep],
    env: { SMOKE_SEED: seed, SMOKE_PHASE: 'read' },
  },
]);

describe('kernel smoke, host side', () => {
  test.runIf(existsSync(keep.path))('the kept image holds what boot 1 wrote', () => {
    const fd = openSync(keep.path, 'r');
    const buf = Buffer.alloc(PATTERN_LENGTH);
    try {
      readSync(fd, buf, 0, PATTERN_LENGTH, PATTERN_OFFSET);
    } finally {
      closeSync(fd);
    }
    expect(buf.equals(pattern(seed))).toBe(true);
  });
});
