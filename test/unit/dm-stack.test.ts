import { describe, expect, it } from 'vitest';
import { coalesceMappings, passthrough, sharedBlocks, toBottom, translate, type DeviceMapping } from '../../src/dm/stack.js';
import { LinearTarget, SnapshotOriginTarget, ZeroTarget } from '../../src/dm/targets.js';
import type { StoreSegment } from '../../src/fiemap/align.js';
import { deviceNumber, formatDeviceNumber } from '../../src/linux/device-number.js';
import { storeMappings } from '../../src/store/attach.js';
import type { Bytes, Sectors } from '../../src/units/units.js';
import { FakeDeviceMapper } from '../support/fake-dm.js';

const K = 1024;
const seg = (storeOffset: number, physical: number, length: number, fileOffset = storeOffset): StoreSegment => ({
  storeOffset: storeOffset as Bytes,
  fileOffset: fileOffset as Bytes,
  physical: physical as Bytes,
  length: length as Bytes,
});
const describePiece = (p: DeviceMapping): string => `${p.start} ${p.length} linear ${formatDeviceNumber(p.device)} ${p.offset}`;
const vda = deviceNumber(254, 0);
const vdb = deviceNumber(254, 16);
const D = deviceNumber(253, 0);
// D: sectors [0, 1000) -> vda at 5000; [1000, 3000) -> vdb at 0 (swapped order, two disks)
const lower: DeviceMapping[] = [
  { start: 0 as Sectors, length: 1000 as Sectors, device: vda, offset: 5000 as Sectors },
  { start: 1000 as Sectors, length: 2000 as Sectors, device: vdb, offset: 0 as Sectors },
];
const through = (segments: StoreSegment[]) => coalesceMappings(translate(storeMappings(segments, D), lower, 'data'));

describe('translate (a store through its filesystem device\'s table)', () => {
  it('moves a segment onto the device below, keeping the store offsets', () => {
    expect(through([seg(0, 8 * 512, 4 * K)]).map(describePiece)).toEqual(['0 8 linear 254:0 5008']);
  });
  it('splits a segment that crosses a boundary of the table', () => {
    // 8 KiB at D sector 996: 4 sectors on vda, 12 on vdb
    expect(through([seg(0, 996 * 512, 8 * K)]).map(describePiece)).toEqual(['0 4 linear 254:0 5996', '4 12 linear 254:16 0']);
  });
  it('coalesces pieces that continue each other below', () => {
    // Two store segments that follow each other on D, both inside its vdb part.
    expect(through([seg(0, 1000 * 512, 4 * K), seg(4 * K, 1008 * 512, 4 * K)]).map(describePiece)).toEqual(['0 16 linear 254:16 0']);
  });
  it('refuses a segment outside the table', () => {
    expect(() => through([seg(0, 3000 * 512, 4 * K)])).toThrow(/outside its table/);
  });
});

describe('storeMappings over the file (a loop device)', () => {
  it('maps store offsets to file offsets on the loop device, coalescing', () => {
    const loop = deviceNumber(7, 3);
    const pieces = coalesceMappings(storeMappings([seg(0, 0, 4 * K, 4 * K), seg(4 * K, 99 * K, 4 * K, 8 * K), seg(8 * K, 0, 4 * K, 16 * K)], loop, 'fileOffset'));
    expect(pieces.map(describePiece)).toEqual(['0 16 linear 7:3 8', '16 8 linear 7:3 32']);
  });
  it('coalesceMappings keeps different devices apart', () => {
    const p = (start: number, device = vda): DeviceMapping => ({ start: start as Sectors, length: 8 as Sectors, device, offset: start as Sectors });
    expect(coalesceMappings([p(0), p(8, vdb), p(16, vdb)])).toHaveLength(2);
  });
});

describe('passthrough', () => {
  it('reads linear segments and snapshot-origin as pieces below, in order', () => {
    const r = passthrough([new LinearTarget(8 as Sectors, vda, 100 as Sectors), new SnapshotOriginTarget(16 as Sectors, vdb)]);
    expect('segments' in r && r.segments.map(describePiece)).toEqual(['0 8 linear 254:0 100', '8 16 linear 254:16 8']);
  });
  it('names the first target that does not pass its sectors through', () => {
    const r = passthrough([new LinearTarget(8 as Sectors, vda, 0 as Sectors), new ZeroTarget(8 as Sectors)]);
    expect('blocker' in r && r.blocker.type).toBe('zero');
  });
});

describe('toBottom and sharedBlocks (a walk down a stack of dm devices)', () => {
  // top -> mid (two linear halves, swapped) -> vda; and a second stack `other` over part of vda.
  const dm = new FakeDeviceMapper();
  dm.addDisk('vda', vda, 4096);
  const mid = dm.createDeviceNow('mid', [new LinearTarget(1024 as Sectors, vda, 1024 as Sectors), new LinearTarget(1024 as Sectors, vda, 0 as Sectors)]);
  const top = dm.createDeviceNow('top', [new LinearTarget(2048 as Sectors, mid, 0 as Sectors)]);
  const other = dm.createDeviceNow('other', [new LinearTarget(100 as Sectors, vda, 3000 as Sectors)]);
  const whole = (device: typeof top, length: number): DeviceMapping => ({ start: 0 as Sectors, length: length as Sectors, device, offset: 0 as Sectors });

  it('follows both levels down to the disk, splitting where the tables do', () => {
    expect(toBottom(dm, [whole(top, 2048)]).map(describePiece)).toEqual(['0 1024 linear 254:0 1024', '1024 1024 linear 254:0 0']);
  });
  it('stops at a device that is not dm, and goes nowhere without a client', () => {
    expect(toBottom(undefined, [whole(top, 8)]).map(describePiece)).toEqual(['0 8 linear 253:1 0']);
  });
  it('finds where two stacks share blocks, in the first one\'s offsets', () => {
    const shared = sharedBlocks(dm, [whole(top, 2048)], [{ start: 0 as Sectors, length: 16 as Sectors, device: vda, offset: 10 as Sectors }]);
    expect(shared).toEqual([{ start: 1034, length: 16, offset: 10 }]);
    expect(sharedBlocks(dm, [whole(top, 2048)], [whole(other, 100)])).toEqual([]);
  });
});
