// Host side of the dm client suite: one boot runs test/kernel/dm-client.guest.ts against the
// guest kernel's device-mapper, with dmsetup as the oracle, and the cases the fake
// device-mapper is held to (test/support/dm-cases.ts).
import { kernelSuite } from '../vm/kernel-suite.js';

await kernelSuite('dm client', [
  {
    files: ['test/kernel/dm-client.guest.ts', 'test/kernel/dm-parity.guest.ts'],
    disks: [
      { name: 'dm', sizeMiB: 640 },
      { name: 'parity', sizeMiB: 64 },
    ],
    timeoutSec: 600,
  },
]);
