import { describe, expect, it } from 'vitest';
import type { StoreSegment } from '../../src/fiemap/align.js';
import { deviceNumber } from '../../src/linux/device-number.js';
import { coalescePieces, describePiece, piecesOverFile, translateThroughLinear } from '../../src/store/cow-map.js';
import type { LowerSegment } from '../../src/store/cow-map.js';
import type { Bytes, Sectors } from '../../src/units/units.js';

const K = 1024;
const seg = (storeOffset: number, physical: number, length: number, fileOffset = storeOffset): StoreSegment => ({
  storeOffset: storeOffset as Bytes,
  fileOffset: fileOffset as Bytes,
  physical: physical as Bytes,
  length: length as Bytes,
});
const vda = deviceNumber(254, 0);
const vdb = deviceNumber(254, 16);
// D: sectors [0, 1000) -> vda at 5000; [1000, 3000) -> vdb at 0 (swapped order, two disks)
const lower: LowerSegment[] = [
  { start: 0 as Sectors, length: 1000 as Sectors, device: vda, offset: 5000 as Sectors },
  { start: 1000 as Sectors, length: 2000 as Sectors, device: vdb, offset: 0 as Sectors },
];

describe('translateThroughLinear', () => {
  it('moves a segment onto the device below, keeping the store offsets', () => {
    expect(translateThroughLinear([seg(0, 8 * 512, 4 * K)], lower, 'data').map(describePiece)).toEqual(['0 8 linear 254:0 5008']);
  });
  it('splits a segment that crosses a boundary of the table', () => {
    // 8 KiB at D sector 996: 4 sectors on vda, 12 on vdb
    expect(translateThroughLinear([seg(0, 996 * 512, 8 * K)], lower, 'data').map(describePiece)).toEqual([
      '0 4 linear 254:0 5996',
      '4 12 linear 254:16 0',
    ]);
  });
  it('coalesces pieces that continue each other below', () => {
    // Two store segments that follow each other on D, both inside its vdb part.
    const pieces = translateThroughLinear([seg(0, 1000 * 512, 4 * K), seg(4 * K, 1008 * 512, 4 * K)], lower, 'data');
    expect(pieces.map(describePiece)).toEqual(['0 16 linear 254:16 0']);
  });
  it('refuses a segment outside the table', () => {
    expect(() => translateThroughLinear([seg(0, 3000 * 512, 4 * K)], lower, 'data')).toThrow(/outside its table/);
  });
});

describe('piecesOverFile', () => {
  it('maps store offsets to file offsets on the loop device, coalescing', () => {
    const loop = deviceNumber(7, 3);
    const pieces = piecesOverFile([seg(0, 0, 4 * K, 4 * K), seg(4 * K, 99 * K, 4 * K, 8 * K), seg(8 * K, 0, 4 * K, 16 * K)], loop);
    expect(pieces.map(describePiece)).toEqual(['0 16 linear 7:3 8', '16 8 linear 7:3 32']);
  });
  it('coalescePieces keeps different devices apart', () => {
    const p = (start: number, device = vda) => ({ start: start as Sectors, length: 8 as Sectors, device, offset: start as Sectors });
    expect(coalescePieces([p(0), p(8, vdb), p(16, vdb)])).toHaveLength(2);
  });
});
