// src/linux/mount.ts on real filesystems (loop devices): read-only mounts that
// do not write, a read-only bind of one mount, an unmount that detaches when busy.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bindReadOnly, mountReadOnly, unmount } from '../../src/linux/mount.js';
import { makeLoopFs, type LoopFs } from './loopfs.js';

let lfs: LoopFs | undefined;
let target: string;
beforeEach(() => {
  target = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-mount-'));
});
afterEach(async () => {
  await execa('umount', [target], { reject: false });
  fs.rmdirSync(target);
  await lfs?.cleanup();
  lfs = undefined;
});

/** The options mountinfo shows for the mount at `at`, or undefined when nothing is mounted there. */
function optionsAt(at: string): string | undefined {
  const line = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === at);
  return line?.split(' ')[5];
}

describe('read-only mounts', () => {
  it.each(['ext4', 'xfs'] as const)('%s: mounted read-only, nosuid, nodev, noexec; writes refused; unmounted again', async (type) => {
    lfs = await makeLoopFs(type, type === 'xfs' ? 320 : 64);
    fs.writeFileSync(path.join(lfs.mountpoint, 'f'), 'before');
    await execa('umount', [lfs.mountpoint]);
    mountReadOnly(lfs.device!, target, type);
    expect(optionsAt(target)).toMatch(/^ro,nosuid,nodev,noexec/);
    expect(fs.readFileSync(path.join(target, 'f'), 'utf8')).toBe('before');
    expect(() => fs.writeFileSync(path.join(target, 'g'), 'x')).toThrow(/EROFS/);
    expect(unmount(target)).toEqual({ detached: false });
    expect(optionsAt(target)).toBeUndefined();
    await execa('mount', [lfs.device!, lfs.mountpoint]); // for cleanup
  });

  it('a filesystem it knows no safe read-only options for is refused, nothing mounted', async () => {
    lfs = await makeLoopFs('btrfs', 128);
    await execa('umount', [lfs.mountpoint]);
    expect(() => mountReadOnly(lfs!.device!, target, 'btrfs')).toThrow(expect.objectContaining({ code: 'READ_ONLY_UNSUPPORTED', message: expect.stringMatching(/holds btrfs: .*ext4 and xfs/) }));
    expect(optionsAt(target)).toBeUndefined();
    await execa('mount', [lfs.device!, lfs.mountpoint]);
  });

  it('a bind of a writable mount is read-only, the mount stays writable, and what is mounted below it does not show', async () => {
    lfs = await makeLoopFs('ext4', 64);
    fs.mkdirSync(path.join(lfs.mountpoint, 'sub'));
    fs.writeFileSync(path.join(lfs.mountpoint, 'sub/under'), 'hidden by the tmpfs');
    await execa('mount', ['-t', 'tmpfs', 'tmpfs', path.join(lfs.mountpoint, 'sub')]);
    try {
      bindReadOnly(lfs.mountpoint, target);
      expect(optionsAt(target)).toMatch(/^ro,nosuid,nodev,noexec/);
      expect(fs.readdirSync(path.join(target, 'sub'))).toEqual(['under']);
      expect(() => fs.writeFileSync(path.join(target, 'g'), 'x')).toThrow(/EROFS/);
      fs.writeFileSync(path.join(lfs.mountpoint, 'still-writable'), 'yes');
      expect(optionsAt(lfs.mountpoint)).toMatch(/^rw/);
      unmount(target);
    } finally {
      await execa('umount', [path.join(lfs.mountpoint, 'sub')]);
    }
  });

  it('busy (a file open in it), the mount is detached instead, and says so', async () => {
    lfs = await makeLoopFs('ext4', 64);
    fs.writeFileSync(path.join(lfs.mountpoint, 'f'), 'x');
    bindReadOnly(lfs.mountpoint, target);
    const fd = fs.openSync(path.join(target, 'f'), 'r');
    try {
      expect(unmount(target)).toEqual({ detached: true });
      expect(optionsAt(target)).toBeUndefined();
    } finally {
      fs.closeSync(fd);
    }
  });

  it('an unmount of what is not mounted names the path and the errno', () => {
    expect(() => unmount(target)).toThrow(expect.objectContaining({ code: 'EINVAL', message: expect.stringContaining(`umount ${target}`) }));
  });
});
