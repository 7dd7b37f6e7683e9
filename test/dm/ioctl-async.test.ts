/**
 * What errno an asynchronous koffi call reports: the ioctl runs on a worker
 * thread, and koffi copies that thread's errno into the main thread before
 * the callback (koffi 3, call.cc AsyncCall::Complete). Checked with ioctls
 * that fail in known ways on this host (no device-mapper needed).
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DeviceMapper } from '../../src/dm/client.js';
import { DM_IOCTL_SIZE, DmCommand, encodeRequest } from '../../src/dm/abi.js';
import { DmError } from '../../src/dm/errors.js';
import { ioctl, ioctlAsync } from '../../src/linux/ioctl.js';

describe('errno of asynchronous ioctls', () => {
  it('is the ioctl\'s own: ENOTTY for a dm command on /dev/null, EBADF on a closed fd', async () => {
    const fd = fs.openSync('/dev/null', 'r');
    try {
      const buf = encodeRequest({}, DM_IOCTL_SIZE);
      expect(() => ioctl(fd, DmCommand.VERSION, buf, 'DM_VERSION', '/dev/null')).toThrow(expect.objectContaining({ code: 'ENOTTY' }));
      await expect(ioctlAsync(fd, DmCommand.DEV_WAIT, buf, 'DM_DEV_WAIT', '/dev/null')).rejects.toMatchObject({ code: 'ENOTTY', path: '/dev/null' });
    } finally {
      fs.closeSync(fd);
    }
    const closed = fs.openSync('/dev/null', 'r');
    fs.closeSync(closed);
    await expect(ioctlAsync(closed, DmCommand.DEV_WAIT, encodeRequest({}, DM_IOCTL_SIZE), 'DM_DEV_WAIT')).rejects.toMatchObject({ code: 'EBADF' });
  });
});

describe('DeviceMapper.open without device-mapper', () => {
  it('names the missing control node and the module to load', () => {
    const missing = '/tmp/snapstore-no-such-control';
    let err: unknown;
    try {
      DeviceMapper.open(missing);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DmError);
    expect(err).toMatchObject({ code: 'ENOENT', operation: 'open', errno: 2 });
    expect((err as DmError).message).toMatch(/device-mapper is not available: \/tmp\/snapstore-no-such-control/);
    expect((err as DmError).hint).toMatch(/modprobe dm-mod/);
  });

  it('reports ENOTTY from a control node that is not device-mapper', () => {
    expect(() => DeviceMapper.open('/dev/null')).toThrow(expect.objectContaining({ code: 'ENOTTY', operation: 'version' }));
  });
});
