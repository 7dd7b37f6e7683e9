import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { deviceNumber } from '../../src/linux/device-number.js';
import {
  ErrorTarget,
  FlakeyTarget,
  LinearTarget,
  OtherTarget,
  parseTableText,
  parseTarget,
  SnapshotMergeTarget,
  SnapshotOriginTarget,
  SnapshotTarget,
  TableError,
  tableLength,
  tableSpecs,
  ZeroTarget,
  type KernelFeatures,
} from '../../src/dm/targets.js';
import { formatTable } from '../../src/dm/table-text.js';
import { bytes, chunkSize, sectors } from '../../src/units/units.js';

const linux61: KernelFeatures = {
  targetVersions: new Map([
    ['linear', [1, 4, 0]],
    ['snapshot', [1, 16, 0]],
    ['snapshot-merge', [1, 5, 0]],
    ['flakey', [1, 5, 0]],
  ]),
};
const old: KernelFeatures = { targetVersions: new Map([['snapshot', [1, 15, 0]]]) };
const vda = deviceNumber(254, 0);
const cow = deviceNumber(253, 1);
const k4 = chunkSize(bytes(4096));

describe('target parameter strings', () => {
  it.each([
    [new LinearTarget(sectors(8), vda, sectors(2048)), 'linear', '254:0 2048'],
    [new ZeroTarget(sectors(8)), 'zero', ''],
    [new ErrorTarget(sectors(8)), 'error', ''],
    [new FlakeyTarget(sectors(8), vda, sectors(0), 0, 1), 'flakey', '254:0 0 0 1 0'],
    [new FlakeyTarget(sectors(8), vda, sectors(16), 5, 1, { writes: 'drop' }), 'flakey', '254:0 16 5 1 1 drop_writes'],
    [new FlakeyTarget(sectors(8), vda, sectors(16), 5, 1, { writes: 'error' }), 'flakey', '254:0 16 5 1 1 error_writes'],
    [
      new FlakeyTarget(sectors(8), vda, sectors(0), 1, 1, { corruptBioByte: { byte: 32, direction: 'r', value: 1, bioFlags: 0 } }),
      'flakey',
      '254:0 0 1 1 5 corrupt_bio_byte 32 r 1 0',
    ],
    [new SnapshotOriginTarget(sectors(8), vda), 'snapshot-origin', '254:0'],
    [new SnapshotTarget(sectors(8), vda, cow, 'P', k4), 'snapshot', '254:0 253:1 P 8'],
    [new SnapshotTarget(sectors(8), vda, cow, 'PO', chunkSize(bytes(65536))), 'snapshot', '254:0 253:1 PO 128'],
    [new SnapshotTarget(sectors(8), vda, cow, 'N', k4), 'snapshot', '254:0 253:1 N 8'],
    [
      new SnapshotTarget(sectors(8), vda, cow, 'P', k4, { discardZeroesCow: true, discardPassdownOrigin: true }),
      'snapshot',
      '254:0 253:1 P 8 2 discard_zeroes_cow discard_passdown_origin',
    ],
    [new SnapshotMergeTarget(sectors(8), vda, cow, 'P', k4), 'snapshot-merge', '254:0 253:1 P 8'],
  ])('%o renders %s "%s" and parses back', (target, type, params) => {
    expect(target.type).toBe(type);
    expect(target.render(linux61)).toBe(params);
    expect(parseTarget(type, target.length, params)).toEqual(target);
  });

  it('refuses features the kernel does not have, naming the version', () => {
    const t = new SnapshotTarget(sectors(8), vda, cow, 'P', k4, { discardZeroesCow: true });
    expect(() => t.render(old)).toThrow(/snapshot target 1\.16\.0 or newer; this kernel has 1\.15\.0/);
    expect(() => new FlakeyTarget(sectors(8), vda, sectors(0), 1, 1, { writes: 'error' }).render(old)).toThrow(
      /no flakey target loaded/,
    );
  });

  it('reads the 6.1 flakey readback, which ends in a space', () => {
    expect(parseTarget('flakey', sectors(8), '254:0 0 0 1 1 drop_writes ')).toEqual(
      new FlakeyTarget(sectors(8), vda, sectors(0), 0, 1, { writes: 'drop' }),
    );
  });

  it('keeps targets it does not model as text', () => {
    const t = parseTarget('crypt', sectors(8), 'aes-xts-plain64 :64:logon:k 0 254:0 0 ');
    expect(t).toEqual(new OtherTarget('crypt', sectors(8), 'aes-xts-plain64 :64:logon:k 0 254:0 0'));
  });

  it.each([
    ['linear', '254:0'],
    ['linear', '254:0 1 2'],
    ['linear', '254 0'],
    ['linear', '254:0 -1'],
    ['linear', '4096:0 0'],
    ['linear', '/dev/vda 0'],
    ['zero', '1'],
    ['error', 'x'],
    ['flakey', '254:0 0 0'],
    ['flakey', '254:0 0 0 0'],
    ['flakey', '254:0 0 1 1 2 drop_writes'],
    ['flakey', '254:0 0 1 1 1 bogus'],
    ['flakey', '254:0 0 1 1 2 drop_writes error_writes'],
    ['flakey', '254:0 0 1 1 5 corrupt_bio_byte 1 x 0 0'],
    ['snapshot-origin', ''],
    ['snapshot-origin', '254:0 253:1'],
    ['snapshot', '254:0 253:1 P'],
    ['snapshot', '254:0 253:1 Q 8'],
    ['snapshot', '254:0 253:1 P 12'],
    ['snapshot', '254:0 253:1 P 0'],
    ['snapshot', '254:0 253:1 P 8 1'],
    ['snapshot', '254:0 253:1 P 8 1 discard_passdown_origin'],
    ['snapshot', '254:0 253:1 P 8 1 trim'],
    ['snapshot-merge', '254:0 253:1 P 8 2 discard_zeroes_cow discard_zeroes_cow'],
  ])('refuses %s "%s"', (type, params) => {
    expect(() => parseTarget(type, sectors(8), params)).toThrow(TableError);
  });
});

describe('tables', () => {
  const table = [
    new LinearTarget(sectors(8), vda, sectors(4096)),
    new LinearTarget(sectors(16), vda, sectors(0)),
    new ZeroTarget(sectors(8)),
  ];

  it('lays targets end to end from sector 0', () => {
    expect(tableSpecs(table, linux61)).toEqual([
      { start: 0, length: 8, type: 'linear', params: '254:0 4096' },
      { start: 8, length: 16, type: 'linear', params: '254:0 0' },
      { start: 24, length: 8, type: 'zero', params: '' },
    ]);
    expect(tableLength(table)).toBe(32);
  });

  it('formats like dmsetup table and parses dmsetup output (trailing spaces included)', () => {
    expect(formatTable(table, linux61)).toBe('0 8 linear 254:0 4096\n8 16 linear 254:0 0\n24 8 zero');
    expect(parseTableText('0 8 linear 254:0 4096\n8 16 linear 254:0 0\n24 8 zero \n')).toEqual(table);
  });

  it('refuses gaps, overlaps, empty tables and zero lengths', () => {
    expect(() => parseTableText('0 8 zero\n16 8 zero')).toThrow(/starts at sector 16, expected 8/);
    expect(() => parseTableText('0 8 zero\n4 8 zero')).toThrow(/contiguous/);
    expect(() => parseTableText('0 8')).toThrow(/not "<start> <length> <type>/);
    expect(() => tableSpecs([], linux61)).toThrow(/at least one target/);
    expect(() => tableSpecs([new ZeroTarget(sectors(0))], linux61)).toThrow(/length 0/);
    expect(() => tableSpecs([new ZeroTarget(sectors(2 ** 52)), new ZeroTarget(sectors(2 ** 52))], linux61)).toThrow(/not a non-negative safe integer/);
  });

  it('round-trips any linear table through its text', () => {
    const segment = fc
      .record({ len: fc.integer({ min: 1, max: 2 ** 40 }), major: fc.integer({ min: 0, max: 4095 }), minor: fc.integer({ min: 0, max: 0xfffff }), off: fc.integer({ min: 0, max: 2 ** 50 }) })
      .map((s) => new LinearTarget(sectors(s.len), deviceNumber(s.major, s.minor), sectors(s.off)));
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 20 }), (t) => {
        expect(parseTableText(formatTable(t, linux61))).toEqual(t);
      }),
    );
  });
});
