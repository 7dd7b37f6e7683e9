// Host side of the dm client suite: one boot runs test/kernel/dm-client.guest.ts against the
// guest kernel's device-mapper, with dmsetup as the oracle.
import { kernelSuite } from '../vm/kernel-suite.js';

await kernelSuite('dm client', [
  {
    files: ['test/kernel/dm-client.guest.ts'],
    disks: [{ name: 'dm', sizeMiB: 640 }],
    timeoutSec: 600,
  },
]);
