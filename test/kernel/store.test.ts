// Kernel suite for src/store on a real device-mapper: one boot.
import { kernelSuite } from '../vm/kernel-suite.js';

await kernelSuite('store', [
  {
    files: ['test/kernel/store-attach.guest.ts', 'test/kernel/store-merge.guest.ts'],
    disks: [
      { name: 'data', sizeMiB: 640 },
      { name: 'plain', sizeMiB: 128 },
      { name: 'plain2', sizeMiB: 64 },
      { name: 'merge', sizeMiB: 96 },
    ],
    timeoutSec: 600,
  },
]);
