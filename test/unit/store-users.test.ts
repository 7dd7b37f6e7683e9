// Who uses a store: its cow device and what is stacked on it, not every
// device named for the same snapshot (an update's passthrough left open after
// its commit held the store's deletion up on the real kernel: the fake
// platform's deleteStore does not ask, so this is checked here).
import { describe, expect, it } from 'vitest';
import { LinearTarget, SnapshotMergeTarget, SnapshotTarget } from '../../src/dm/targets.js';
import { deviceNumber } from '../../src/linux/device-number.js';
import { storeUsers } from '../../src/store/in-use.js';
import { chunkSize, bytes, sectors } from '../../src/units/units.js';
import { FakeDeviceMapper } from '../support/fake-dm.js';

const DISK = deviceNumber(254, 0);
const ORIGIN = deviceNumber(254, 16);

function world(): FakeDeviceMapper {
  const dm = new FakeDeviceMapper();
  dm.addDisk('vda', DISK, 1 << 20);
  dm.addDisk('vdb', ORIGIN, 1 << 16);
  return dm;
}

describe('storeUsers', () => {
  it('counts the cow device and a snapshot over it', () => {
    const dm = world();
    const cow = dm.createDeviceNow('snapstore-u-cow', [new LinearTarget(sectors(8192), DISK, sectors(0))], 'SNAPSTORE-u-cow');
    dm.createDeviceNow('snapstore-u', [new SnapshotTarget(sectors(1 << 16), ORIGIN, cow, 'P', chunkSize(bytes(4096)))], 'SNAPSTORE-u-update');
    expect(storeUsers(dm, 'u', '/nonexistent/u.store')).toEqual(['dm device snapstore-u-cow', 'dm device snapstore-u']);
  });

  it('does not count a device named for the snapshot that no longer uses the store (a passthrough after the commit, a real device)', () => {
    const dm = world();
    dm.createDeviceNow('snapstore-u', [new LinearTarget(sectors(1 << 16), ORIGIN, sectors(0))], 'SNAPSTORE-u-update');
    dm.createDeviceNow('snapstore-c-real', [new LinearTarget(sectors(8192), DISK, sectors(8192))], 'SNAPSTORE-c-real');
    expect(storeUsers(dm, 'u', '/nonexistent/u.store')).toEqual([]);
    expect(storeUsers(dm, 'c', '/nonexistent/c.store')).toEqual([]);
  });

  it('counts a merge over the cow', () => {
    const dm = world();
    const cow = dm.createDeviceNow('snapstore-u-cow', [new LinearTarget(sectors(8192), DISK, sectors(0))], 'SNAPSTORE-u-cow');
    dm.createDeviceNow('snapstore-u', [new SnapshotMergeTarget(sectors(1 << 16), ORIGIN, cow, 'P', chunkSize(bytes(4096)))], 'SNAPSTORE-u-update');
    expect(storeUsers(dm, 'u', '/nonexistent/u.store')).toHaveLength(2);
  });
});
