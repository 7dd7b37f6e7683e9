import { describe, expect, it } from 'vitest';
import { DmError, dmError } from '../../src/dm/errors.js';
import { SnapstoreError } from '../../src/errors.js';
import { parseMountInfo } from '../../src/linux/mountinfo.js';

describe('dmError', () => {
  it('keeps errno, code, device and operation, and is a SnapstoreError', () => {
    const e = dmError('remove', 'snap', 16);
    expect(e).toBeInstanceOf(DmError);
    expect(e).toBeInstanceOf(SnapstoreError);
    expect(e).toMatchObject({ errno: 16, code: 'EBUSY', device: 'snap', operation: 'remove' });
  });

  it.each([
    ['create', 16, {}, /create d: a device-mapper device with this name or uuid already exists/, /remove the old device/],
    ['remove', 16, { mounts: ['253:4 on /data'] }, /remove d: the device is in use \(EBUSY\): mounted: 253:4 on \/data/, /unmount/],
    ['remove', 16, { holders: ['data-snap'] }, /held by data-snap/, /stacked on it/],
    ['remove', 16, { openCount: 2 }, /open 2 time\(s\)/, /close whatever/],
    ['load', 16, { mounts: ['254:0 on /'], kernelLog: 'device-mapper: table: 253:5: linear: Device lookup failed (-EBUSY)' }, /held exclusively.*254:0 on \/.*kernel: "device-mapper: table/, /mounted filesystem/],
    ['load', 22, { tableProblem: 'segment 3 (sectors 24+8) maps 254:0 up to sector 1032, past its end at 1024' }, /the kernel refused the table: .*EINVAL.*segment 3/, /dmesg/],
    ['status', 6, {}, /status d: there is no device-mapper device "d" \(ENXIO\)/, /removed meanwhile/],
    ['suspend', 13, {}, /suspend d: device-mapper refused/, /needs root/],
    ['create', 1, {}, /EPERM/, /needs root/],
    ['resume', 12, {}, /resume d: .*ENOMEM/, undefined],
  ] as const)('%s errno %d', (op, errno, ctx, message, hint) => {
    const e = dmError(op, 'd', errno, ctx);
    expect(e.message).toMatch(message);
    if (hint) expect(e.hint).toMatch(hint);
    else expect(e.hint).toBeUndefined();
  });
});

describe('parseMountInfo', () => {
  it('reads device, mount point (unescaped), type and source; skips malformed lines', () => {
    const text = [
      '22 1 253:4 / /data rw,relatime shared:1 - ext4 /dev/mapper/data rw',
      '23 22 254:0 / /mnt/with\\040space rw - xfs /dev/vda rw,attr2',
      'garbage line',
      '24 1 0:21 / /proc rw,nosuid master:2 - proc proc rw',
    ].join('\n');
    expect(parseMountInfo(text)).toEqual([
      { dev: { major: 253, minor: 4 }, root: '/', mountPoint: '/data', fsType: 'ext4', source: '/dev/mapper/data' },
      { dev: { major: 254, minor: 0 }, root: '/', mountPoint: '/mnt/with space', fsType: 'xfs', source: '/dev/vda' },
      { dev: { major: 0, minor: 21 }, root: '/', mountPoint: '/proc', fsType: 'proc', source: 'proc' },
    ]);
  });
});
