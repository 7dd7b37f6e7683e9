// Kernel suite for `snapstore diff` (diff.guest.ts): one boot, a checkpoint of
// a real ext4 and a real xfs, a known update, the real CLI's answer checked.
import { kernelSuite } from '../vm/kernel-suite.js';

await kernelSuite('diff', [
  {
    files: ['test/kernel/diff.guest.ts'],
    disks: [
      { name: 'dmeta', sizeMiB: 32 },
      { name: 'de4', sizeMiB: 128 },
      { name: 'dxfs', sizeMiB: 320 },
    ],
    timeoutSec: 300,
  },
]);
