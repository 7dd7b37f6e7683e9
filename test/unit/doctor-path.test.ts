// doctor's checks of PATH on canned facts and the fake device-mapper: the
// filesystem (a store can be made there, or why not: btrfs, tmpfs, f2fs);
// what the device beneath is and whether checkpoints work there (an LVM
// volume, a passthrough, an enrolled partition's passthrough, dm-crypt above
// and beneath, a striped device, another tool's snapshot, our own live
// checkpoint, a partition, a loop device, no device-mapper, no device at
// all); update mode there; the update agents' records on it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkCheckpoint } from '../../src/doctor/checkpoint.js';
import { checkPathFilesystem } from '../../src/doctor/filesystem.js';
import type { PathFacts } from '../../src/doctor/path-facts.js';
import { checkUpdateAgents } from '../../src/doctor/update-agents.js';
import { findAgents, raucStatePaths } from '../../src/snapshot/update-agents.js';
import { checkUpdateMode } from '../../src/doctor/update-mode.js';
import { LinearTarget, OtherTarget, SnapshotOriginTarget, type Target } from '../../src/dm/targets.js';
import { deviceNumber, type DeviceNumber } from '../../src/linux/device-number.js';
import { FS_MAGIC, type FsInfo } from '../../src/linux/fs.js';
import { dmUuid } from '../../src/state/names.js';
import type { Bytes, Sectors } from '../../src/units/units.js';
import { FakePlatform, ORIGIN_PATH } from '../support/fake-platform.js';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-doctor-path-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

const fsOf = (type: keyof typeof FS_MAGIC): FsInfo => ({ magic: FS_MAGIC[type], type, blockSize: 4096 as Bytes, sizeBytes: (1 << 30) as Bytes, availableBytes: (1 << 29) as Bytes, freeBytes: (1 << 29) as Bytes });
const SECTORS = 1 << 20;
const len = SECTORS as Sectors;

/** PATH /data on `node` as the platform knows it (a dm device by its name, else a disk), mounted at /data. */
function factsOn(p: FakePlatform | undefined, node: string, dev: DeviceNumber, over: Partial<PathFacts> & { loop?: string } = {}): PathFacts {
  const dmName = p?.dm.nameOf(dev);
  const { loop, ...rest } = over;
  return {
    path: '/data',
    dev,
    fs: fsOf('ext4'),
    mount: { dev, root: '/', mountPoint: '/data', fsType: 'ext4', source: node },
    device: {
      dev,
      name: dmName ? `dm-${dev.minor}` : path.basename(node),
      node: dmName ? `/dev/dm-${dev.minor}` : node,
      isPartition: !dmName && !loop,
      parent: undefined,
      dm: dmName ? { name: dmName, uuid: p!.dm.info(dmName).uuid } : undefined,
      loopBackingFile: loop,
      size: (SECTORS * 512) as Bytes,
      holders: [],
      slaves: [],
    },
    node,
    ...rest,
  };
}

/** A platform with a second disk, vdb (254:16), to stack test devices on. */
function platform(): { p: FakePlatform; disk: DeviceNumber } {
  const p = new FakePlatform();
  const disk = deviceNumber(254, 16);
  p.addPlain('vdb', disk, SECTORS, 'b0d1-part');
  return { p, disk };
}
/** A dm device made on the fake, named by /dev/mapper/NAME. */
function dmDevice(p: FakePlatform, name: string, table: Target[], uuid = ''): { node: string; dev: DeviceNumber } {
  const dev = p.dm.createDeviceNow(name, table, uuid);
  p.paths.set(`/dev/mapper/${name}`, dev);
  return { node: `/dev/mapper/${name}`, dev };
}
const keyInTable = (below: DeviceNumber) => new OtherTarget('crypt', len, `aes-xts-plain64 ${'ab'.repeat(64)} 0 ${below.major}:${below.minor} 32768`);
const keyring = (below: DeviceNumber) => new OtherTarget('crypt', len, `aes-xts-plain64 :64:logon:cryptsetup:7a11-d0 0 ${below.major}:${below.minor} 32768`);

describe('filesystem', () => {
  it('ext4 on a block device: a store can be made there', () => {
    const { p } = platform();
    expect(checkPathFilesystem(factsOn(p, ORIGIN_PATH, p.originDev()))).toEqual({ check: 'filesystem', status: 'ok', message: '/data is on ext4 on /dev/mapper/data (253:0), mounted at /data: a store can be made on it', fix: null });
  });

  it('btrfs: no store, and no block-level snapshot of it either (the same filesystem id twice)', () => {
    const f = checkPathFilesystem({ ...factsOn(undefined, '/dev/sda2', deviceNumber(8, 2)), fs: fsOf('btrfs'), device: undefined, dev: deviceNumber(0, 33) });
    expect(f.status).toBe('fail');
    expect(f.message).toMatch(/^\/data is on btrfs: btrfs reports logical addresses .*; and a snapshot of its device would show a second btrfs with the same filesystem id/);
    expect(f.fix).toMatch(/btrfs subvolume snapshot/);
  });

  it('tmpfs: no block device beneath it at all', () => {
    const f = checkPathFilesystem({ ...factsOn(undefined, 'tmpfs', deviceNumber(0, 27)), fs: fsOf('tmpfs'), device: undefined, node: undefined });
    expect(f).toMatchObject({ status: 'fail', fix: 'checkpoint a filesystem on a block device (ext4 or xfs)' });
    expect(f.message).toBe('/data is on tmpfs: tmpfs lives in memory and has no block device; the store cannot be mapped raw there (mounted at /data); nor is there a block device beneath it for a snapshot to keep');
  });

  it('another filesystem on a block device (f2fs): the store goes elsewhere, and it is untested', () => {
    const { p } = platform();
    const f = checkPathFilesystem({ ...factsOn(p, ORIGIN_PATH, p.originDev()), fs: fsOf('f2fs') });
    expect(f.status).toBe('warn');
    expect(f.message).toMatch(/^\/data is on f2fs: f2fs moves blocks .*: a checkpoint of it needs its store on another ext4 or xfs filesystem over a dm device/);
    expect(f.fix).toBe('put the store on an ext4 or xfs filesystem on a block device');
  });
});

describe('checkpoint', () => {
  const check = (p: FakePlatform | undefined, node: string, dev: DeviceNumber, over: Parameters<typeof factsOn>[3] = {}) => checkCheckpoint(factsOn(p, node, dev, over), p);

  it('an LVM logical volume: works', () => {
    const { p } = platform();
    expect(check(p, ORIGIN_PATH, p.originDev())).toEqual({
      check: 'checkpoint',
      status: 'ok',
      message: '/data is on /dev/mapper/data (253:0): an LVM logical volume: checkpoints work (its table moves to snapstore-NAME-real, as LVM does for its own snapshots)',
      fix: null,
    });
  });

  it("a dm passthrough, and snapstore's own over an enrolled partition: works", () => {
    const { p, disk } = platform();
    const pass = dmDevice(p, 'pass', [new LinearTarget(len, disk, 0 as Sectors)]);
    expect(check(p, pass.node, pass.dev).message).toBe('/data is on /dev/mapper/pass (253:1): a dm passthrough (linear over 254:16): checkpoints work (its table moves to snapstore-NAME-real, as LVM does for its own snapshots)');
    const { p: q, disk: d } = platform();
    const enrolled = dmDevice(q, 'snapstore-home', [new LinearTarget(len, d, 0 as Sectors)], dmUuid('home', 'origin'));
    expect(check(q, enrolled.node, enrolled.dev)).toMatchObject({ status: 'ok', message: expect.stringContaining("snapstore's passthrough of an enrolled partition: checkpoints work") });
  });

  it('dm-crypt with its key in the table: works above the crypt layer', () => {
    const { p, disk } = platform();
    const c = dmDevice(p, 'secret', [keyInTable(disk)], 'CRYPT-LUKS2-0b5a-secret');
    expect(check(p, c.node, c.dev)).toMatchObject({ status: 'ok', message: '/data is on /dev/mapper/secret (253:1): dm-crypt with its key in its table: a checkpoint goes above the crypt layer (the table moves to snapstore-NAME-real)' });
  });

  it("dm-crypt with its key in the keyring: refused with create's own reason; over an enrolled partition's passthrough: works beneath", () => {
    const { p, disk } = platform();
    const c = dmDevice(p, 'secret', [keyring(disk)], 'CRYPT-LUKS2-0b5a-secret');
    const f = check(p, c.node, c.dev);
    expect(f.status).toBe('fail');
    expect(f.message).toMatch(/^secret is dm-crypt with its key in the kernel keyring/);
    expect(f.fix).toMatch(/enroll the LUKS partition/);
    const enrolled = dmDevice(p, 'snapstore-home', [new LinearTarget(len, deviceNumber(254, 0), 0 as Sectors)], dmUuid('home', 'origin'));
    const above = dmDevice(p, 'home-crypt', [keyring(enrolled.dev)]);
    expect(check(p, above.node, above.dev)).toMatchObject({ status: 'ok', message: expect.stringContaining("dm-crypt over snapstore-home, an enrolled partition's passthrough: a checkpoint goes beneath the crypt layer") });
  });

  it('another kind of dm device (striped): accepted by create, but untested: a warning', () => {
    const { p, disk } = platform();
    const s = dmDevice(p, 'stripes', [new OtherTarget('striped', len, `2 128 ${disk.major}:${disk.minor} 0 254:0 0`)]);
    const f = check(p, s.node, s.dev);
    expect(f.status).toBe('warn');
    expect(f.message).toMatch(/a dm device of striped targets: create accepts it .* but snapstore is tested over linear \(passthroughs, LVM\) and crypt devices only$/);
  });

  it("another tool's snapshot on it: refused; our own live checkpoint: said so", () => {
    const { p, disk } = platform();
    const lvm = dmDevice(p, 'vg-lv', [new SnapshotOriginTarget(len, disk)], 'LVM-abc');
    expect(check(p, lvm.node, lvm.dev)).toMatchObject({ status: 'fail', message: expect.stringMatching(/^vg-lv already carries a snapshot-origin target: it has a snapshot/) });
    const { p: q, disk: d } = platform();
    const real = q.dm.createDeviceNow('snapstore-u1-real', [new LinearTarget(len, d, 0 as Sectors)], dmUuid('u1', 'real'));
    const origin = dmDevice(q, 'data2', [new SnapshotOriginTarget(len, real)]);
    expect(check(q, origin.node, origin.dev)).toMatchObject({ status: 'ok', message: '/data is on /dev/mapper/data2 (253:2): snapstore\'s "u1" is a live checkpoint of it: `snapstore status u1`' });
  });

  it("a plain partition: refused with create's own reason, enroll as the way", () => {
    const { p } = platform();
    p.addPlain('vdc', deviceNumber(254, 32), SECTORS);
    const f = check(p, '/dev/vdc', deviceNumber(254, 32));
    expect(f.status).toBe('fail');
    expect(f.message).toMatch(/^\/dev\/vdc \(254:32\) is a plain disk or partition, not a device-mapper device/);
    expect(f.fix).toMatch(/^enroll it \(`snapstore enroll \/dev\/vdc --name NAME`, then mount it as \/dev\/mapper\/snapstore-NAME: from the next boot at the latest\)/);
  });

  it('a loop device: a dm passthrough over it is the way', () => {
    const { p } = platform();
    p.addPlain('loop0', deviceNumber(7, 0), SECTORS);
    const f = check(p, '/dev/loop0', deviceNumber(7, 0), { loop: '/srv/data.img' });
    expect(f.status).toBe('fail');
    expect(f.message).toMatch(/^\/data is on \/dev\/loop0 \(7:0, over \/srv\/data\.img\): a loop device, not a dm device/);
    expect(f.fix).toBe('mount it from a dm passthrough over the loop device instead (`dmsetup create NAME --table "0 1048576 linear /dev/loop0 0"`, then mount /dev/mapper/NAME): checkpoints work there');
  });

  it('no device-mapper (this machine): device-mapper first, then enroll', () => {
    const f = check(undefined, '/dev/vda', deviceNumber(254, 0));
    expect(f).toMatchObject({ status: 'fail', message: '/data is on /dev/vda (254:0), not a dm device, and checkpoints need device-mapper beneath the filesystem' });
    expect(f.fix).toBe('the device-mapper fix first; then `snapstore enroll /dev/vda --name NAME`, then a reboot (it is then mounted through /dev/mapper/snapstore-NAME)');
  });

  it('no block device beneath: nothing to snapshot', () => {
    const f = checkCheckpoint({ ...factsOn(undefined, 'tmpfs', deviceNumber(0, 27)), fs: fsOf('tmpfs'), device: undefined, node: undefined }, undefined);
    expect(f).toMatchObject({ status: 'fail', message: '/data is on no block device (0:27): a checkpoint keeps the old contents of a block device beneath a filesystem, and tmpfs has none' });
  });
});

describe('update-mode', () => {
  it('not the device PATH is on; its store can live on ext4 over a passthrough', () => {
    const { p } = platform();
    const f = checkUpdateMode(factsOn(p, ORIGIN_PATH, p.originDev()), p);
    expect(f).toEqual({
      check: 'update-mode',
      status: 'ok',
      message: "update mode writes an update into a snapshot of a device nothing mounts (another A/B slot, a partition before it is mounted), so not /dev/mapper/data while it is mounted at /data; an update's store can live on this filesystem (ext4 over a dm device that passes straight through)",
      fix: null,
    });
  });

  it("a store cannot live over dm-crypt, on a plain partition, or on btrfs: a warning with the reason", () => {
    const { p, disk } = platform();
    const c = dmDevice(p, 'secret', [keyInTable(disk)]);
    expect(checkUpdateMode(factsOn(p, c.node, c.dev), p).message).toMatch(/cannot live on this filesystem: secret's table has a crypt target, which a store cannot be mapped through$/);
    expect(checkUpdateMode(factsOn(undefined, '/dev/vda', deviceNumber(254, 0)), undefined)).toMatchObject({ status: 'warn', message: expect.stringMatching(/\/dev\/vda \(254:0\) is not a dm device/) });
    expect(checkUpdateMode({ ...factsOn(p, ORIGIN_PATH, p.originDev()), fs: fsOf('btrfs') }, p).message).toMatch(/cannot live on this filesystem: \/data is on btrfs/);
  });
});

describe('update-agents', () => {
  const root = (files: Record<string, string>) => {
    const r = fs.mkdtempSync(path.join(scratch, 'root-'));
    for (const [f, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(r, f)), { recursive: true });
      if (text === 'DIR') fs.mkdirSync(path.join(r, f));
      else fs.writeFileSync(path.join(r, f), text);
    }
    return r;
  };

  it("RAUC's system.conf: data-directory and a statusfile path in [system]; per-slot and other sections left out", () => {
    expect(raucStatePaths('[system]\ncompatible=foo\nbootloader=grub\ndata-directory=/data/rauc\nstatusfile = /data/rauc.status\n\n[slot.rootfs.0]\ndevice=/dev/sda2\n')).toEqual(['/data/rauc', '/data/rauc.status']);
    expect(raucStatePaths('[system]\nstatusfile=per-slot\n[keyring]\npath=/etc/rauc/ca.pem\n')).toEqual([]);
  });

  it('found under a root: Mender\'s folder (/var/lib/mender linked to /data/mender counted once), RAUC\'s paths, SWUpdate', () => {
    const r = root({ 'data/mender': 'DIR', 'etc/rauc/system.conf': '[system]\ndata-directory=/data/rauc\n', 'etc/swupdate.cfg': 'globals : { verbose = true; };\n' });
    fs.mkdirSync(path.join(r, 'var/lib'), { recursive: true });
    fs.symlinkSync('../../data/mender', path.join(r, 'var/lib/mender'));
    expect(findAgents(r)).toEqual({ states: [{ agent: 'Mender', path: '/data/mender' }, { agent: 'RAUC', path: '/data/rauc' }], offFilesystem: ['SWUpdate'] });
    expect(findAgents(root({}))).toEqual({ states: [], offFilesystem: [] });
  });

  it("an agent's state on PATH's filesystem: a warning that a rollback rolls its record back; elsewhere, or none: ok", () => {
    const found = { states: [{ agent: 'Mender', path: '/data/mender' }, { agent: 'RAUC', path: '/var/lib/rauc' }], offFilesystem: ['SWUpdate'] };
    const f = checkUpdateAgents(found, (p) => p.startsWith('/data/'), '/data');
    expect(f.status).toBe('warn');
    expect(f.message).toBe("Mender's state (/data/mender) is on /data's filesystem: a rollback of it rolls back the agent's own record of the update too (it would see the update as never made, or still pending); RAUC's state (/var/lib/rauc) is on another filesystem; SWUpdate keeps its update state in the bootloader's environment, off any filesystem");
    expect(f.fix).toMatch(/^keep the agent's state on a filesystem no checkpoint rolls back/);
    expect(checkUpdateAgents(found, () => false, '/srv')).toMatchObject({ status: 'ok', message: expect.stringMatching(/: a rollback of \/srv leaves the agent's record alone$/) });
    expect(checkUpdateAgents({ states: [], offFilesystem: [] }, () => true, '/data').message).toMatch(/^no update agent's state found/);
  });
});
