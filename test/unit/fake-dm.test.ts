// The device-mapper cases of test/support/dm-cases.ts against the in-memory
// fake; the kernel suite runs the same cases against the real kernel.
import { describe, it } from 'vitest';
import { deviceNumber } from '../../src/linux/device-number.js';
import { DM_CASES } from '../support/dm-cases.js';
import { FakeDeviceMapper } from '../support/fake-dm.js';

describe('the fake device-mapper behaves as the kernel does', () => {
  for (const [name, run] of Object.entries(DM_CASES)) {
    it(name, async () => {
      const dm = new FakeDeviceMapper();
      const disk = deviceNumber(254, 0);
      dm.addDisk('vda', disk, 131072);
      await run({ dm, disk, diskSectors: 131072, openDevice: (n) => (dm.open(n), () => dm.open(n, -1)), zero: () => {} });
    });
  }
});
