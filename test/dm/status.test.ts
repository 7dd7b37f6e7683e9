import { describe, expect, it } from 'vitest';
import { mergeComplete, parseSnapshotStatus, StatusError } from '../../src/dm/status.js';

describe('parseSnapshotStatus', () => {
  it.each([
    ['24/196608 16', { state: 'active', allocated: 24, total: 196608, metadata: 16 }],
    ['10408/49152 40', { state: 'active', allocated: 10408, total: 49152, metadata: 40 }],
    ['16/16 16', { state: 'active', allocated: 16, total: 16, metadata: 16 }],
    ['0/8192 0', { state: 'active', allocated: 0, total: 8192, metadata: 0 }],
    ['55896/196608 120\n', { state: 'active', allocated: 55896, total: 196608, metadata: 120 }],
    ['Invalid', { state: 'invalid' }],
    ['Merge failed', { state: 'merge-failed' }],
    ['Overflow', { state: 'overflow' }],
    ['Unknown', { state: 'unknown' }],
  ])('reads %j', (text, expected) => {
    expect(parseSnapshotStatus(text)).toEqual(expected);
  });

  it.each([
    '',
    'invalid',
    'Merge',
    'Merge  failed',
    '24/196608',
    '24 196608 16',
    '24/196608 16 3',
    '-1/8 0',
    '1.5/8 0',
    '24/ 196608 16',
    '0x10/8 0',
    '99999999999999999999/8 0',
    '8/16 9',
    'Invalid 24/196608 16',
  ])('refuses %j', (text) => {
    expect(() => parseSnapshotStatus(text)).toThrow(StatusError);
  });

  it('says a merge is complete only when allocated equals metadata', () => {
    expect(mergeComplete(parseSnapshotStatus('16/8192 16'))).toBe(true);
    expect(mergeComplete(parseSnapshotStatus('24/8192 16'))).toBe(false);
    expect(mergeComplete(parseSnapshotStatus('Invalid'))).toBe(false);
    expect(mergeComplete(parseSnapshotStatus('Merge failed'))).toBe(false);
  });
});
