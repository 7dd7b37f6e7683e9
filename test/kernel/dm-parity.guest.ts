// Guest side: the device-mapper cases of test/support/dm-cases.ts against
// the kernel, with the expectations the fake device-mapper is held to on the host.
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { afterAll, describe, test } from 'vitest';
import { DeviceMapper } from '../../src/dm/client.js';
import { fromDevT } from '../../src/linux/device-number.js';
import { DM_CASES } from '../support/dm-cases.js';
import { guestDisk, requireGuest, run } from '../vm/guest.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';
const dm = DeviceMapper.open();
const path = guestDisk('parity');
const disk = fromDevT(statSync(path).rdev);
const diskSectors = Number(run('blockdev', ['--getsz', path]).trim());
afterAll(() => dm.close());

describe('dm cases shared with the fake', () => {
  for (const [name, runCase] of Object.entries(DM_CASES)) {
    test(name, async () => {
      await runCase({
        dm,
        disk,
        diskSectors,
        openDevice: (n) => {
          const fd = openSync(`/dev/mapper/${n}`, 'r');
          return () => closeSync(fd);
        },
        zero: (sector, length) => {
          const fd = openSync(path, 'r+');
          try {
            writeSync(fd, Buffer.alloc(length), 0, length, sector * 512);
          } finally {
            closeSync(fd);
          }
        },
      });
    });
  }
});
