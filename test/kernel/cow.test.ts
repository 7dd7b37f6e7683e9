// Host side of the cow kernel suite: ONE boot runs
//   cow-merge.guest.ts  our offline merge against the kernel's snapshot-merge (dmsetup-made
//                       stores, filled through the origin and through the snapshot; CLI once);
//   cow-lvm.guest.ts    a store made by LVM (lvcreate -s) against lvconvert --merge.
// The CLI case runs bin/snapstore, which loads the CLI bundle: build first (bash scripts/setup or npm run build).
import { existsSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { kernelSuite } from '../vm/kernel-suite.js';

describe('cow kernel suite, host side', () => {
  test('the built CLI exists for the guest (npm run build)', () => {
    expect(existsSync('dist/cli-bundle/main.js')).toBe(true);
  });
});

await kernelSuite('cow against the kernel', [
  {
    files: ['test/kernel/cow-merge.guest.ts', 'test/kernel/cow-lvm.guest.ts'],
    disks: [
      { name: 'cp-origin', sizeMiB: 128 },
      { name: 'cp-cow', sizeMiB: 64 },
      { name: 'up-origin', sizeMiB: 64 },
      { name: 'up-cow', sizeMiB: 32 },
      { name: 'ho-origin', sizeMiB: 64 },
      { name: 'ho-cow', sizeMiB: 32 },
      { name: 'lvm', sizeMiB: 96 },
    ],
    timeoutSec: 600,
  },
]);
