// doctor's state directory checks: trusted by the state layer's own rules (a
// missing one is fine, one others can write fails with the fix), on the root
// filesystem by install-boot's fstab rule (only the default one is activated
// at boot), and off the filesystem a checkpoint of PATH would roll back (the
// lifecycle's own rule, with and without device-mapper).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkStateDir, checkStateDirAtBoot, checkStateDirOffPath } from '../../src/doctor/state-dir.js';
import { deviceNumber } from '../../src/linux/device-number.js';
import { FakePlatform, ORIGIN } from '../support/fake-platform.js';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-doctor-state-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('state-dir', () => {
  it('missing: fine, the first command that records something makes it', () => {
    expect(checkStateDir(path.join(scratch, 'none'))).toEqual({ check: 'state-dir', status: 'ok', message: `${path.join(scratch, 'none')} is not there yet: the first command that records something makes it (root's, mode 0700)`, fix: null });
  });

  it("there and root's alone: ok", () => {
    const dir = fs.mkdtempSync(path.join(scratch, 'good-'));
    expect(checkStateDir(dir)).toMatchObject({ status: 'ok', message: `${dir}: root's and writable by root alone, as is everything in it and every folder above it` });
  });

  it('writable by others, or a file in it writable by its group: fails with the state layer\'s message and fix', () => {
    const dir = fs.mkdtempSync(path.join(scratch, 'open-'));
    fs.chmodSync(dir, 0o777);
    const f = checkStateDir(dir);
    expect(f.status).toBe('fail');
    expect(f.message).toBe(`${dir} is writable by its group and others (mode 777); snapstore acts as root on what the state directory holds, so it does not trust it`);
    expect(f.fix).toBe(`check what is in it, then chmod go-w ${dir}`);
    fs.chmodSync(dir, 0o700);
    fs.writeFileSync(path.join(dir, 'lock'), '');
    fs.chmodSync(path.join(dir, 'lock'), 0o660);
    expect(checkStateDir(dir).message).toMatch(/lock is writable by its group/);
  });

  it('a relative path, or a folder above it that is missing: fails', () => {
    expect(checkStateDir('var/lib/snapstore')).toMatchObject({ status: 'fail', fix: expect.stringContaining('give an absolute path') });
    expect(checkStateDir(path.join(scratch, 'no/such/dir')).status).toBe('fail');
  });
});

describe('state-dir-at-boot', () => {
  const root = (fstab: string) => {
    const r = fs.mkdtempSync(path.join(scratch, 'root-'));
    fs.mkdirSync(path.join(r, 'etc'));
    fs.writeFileSync(path.join(r, 'etc/fstab'), fstab);
    return r;
  };

  it('the default, on the root filesystem by the fstab: ok', () => {
    const r = root('UUID=0a1b / ext4 errors=remount-ro 0 1\n/dev/mapper/data /data ext4 defaults 0 2\n');
    expect(checkStateDirAtBoot('/var/lib/snapstore', r)).toMatchObject({ status: 'ok', message: expect.stringContaining(`(${r}/etc/fstab mounts nothing of its own at or above it)`) });
  });

  it('the default under a /var of its own: fails with install-boot\'s own refusal', () => {
    const r = root('UUID=0a1b / ext4 defaults 0 1\n/dev/vg/var /var ext4 defaults 0 2\n');
    const f = checkStateDirAtBoot('/var/lib/snapstore', r);
    expect(f.status).toBe('fail');
    expect(f.message).toBe(`the state directory /var/lib/snapstore is on /var, a filesystem of its own (/dev/vg/var in ${r}/etc/fstab): at boot it is mounted only after snapshots must be activated`);
    expect(f.fix).toMatch(/^the boot integration reads \/var\/lib\/snapstore from the root filesystem/);
  });

  it('another state directory: the boot does not activate it', () => {
    const f = checkStateDirAtBoot('/metadata/snapstore', '/');
    expect(f.status).toBe('warn');
    expect(f.message).toBe('the boot integration activates the snapshots of /var/lib/snapstore only: those recorded in /metadata/snapstore are not rebuilt at boot');
    expect(f.fix).toContain('snapstore activate --state-dir /metadata/snapstore');
  });
});

describe('state-dir-location', () => {
  it('on the device PATH is on, or on a dm device that shares its blocks: fails; elsewhere: ok', () => {
    const p = new FakePlatform();
    const origin = { dev: p.originDev(), dmName: ORIGIN, table: p.dm.table(ORIGIN) };
    // The fake's state directory is on 8:1, another disk.
    expect(checkStateDirOffPath(p, '/var/lib/snapstore', origin, '/data')).toEqual({ check: 'state-dir-location', status: 'ok', message: "/var/lib/snapstore is on another filesystem than /data: a rollback of /data leaves snapstore's records alone", fix: null });
    p.stateDirDevice = p.originDev();
    const f = checkStateDirOffPath(p, '/var/lib/snapstore', origin, '/data');
    expect(f.status).toBe('fail');
    expect(f.message).toMatch(/^the state directory \/var\/lib\/snapstore is on data, the filesystem being snapshotted/);
    expect(f.fix).toMatch(/^give --state-dir a folder on another filesystem/);
  });

  it('without device-mapper: the devices compared', () => {
    const dev = deviceNumber(8, 3);
    const same = { dm: undefined, filesystemDevice: () => dev };
    expect(checkStateDirOffPath(same, '/var/lib/snapstore', { dev, dmName: undefined, table: [] }, '/').status).toBe('fail');
    expect(checkStateDirOffPath(same, '/var/lib/snapstore', { dev: deviceNumber(8, 4), dmName: undefined, table: [] }, '/srv').status).toBe('ok');
  });
});
