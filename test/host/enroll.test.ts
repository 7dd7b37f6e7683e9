// enroll / unenroll on the host, against the fake device-mapper and platform:
// a data filesystem on a plain partition mapped through our passthrough at
// every activate, checkpoints over it, and the refusals. The real kernel:
// test/kernel/lifecycle-*.guest.ts.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatTable } from '../../src/dm/table-text.js';
import { LinearTarget, OtherTarget } from '../../src/dm/targets.js';
import { deviceNumber, formatDeviceNumber } from '../../src/linux/device-number.js';
import { activateSnapshots } from '../../src/snapshot/activate.js';
import { commitSnapshot } from '../../src/snapshot/commit.js';
import { createSnapshot } from '../../src/snapshot/create.js';
import { enrollDevice, findEnrolled, unenrollDevice } from '../../src/snapshot/enroll.js';
import { recoverSnapshots } from '../../src/snapshot/recover.js';
import { setFaultHandler, SimulatedCrash } from '../../src/snapshot/faults.js';
import { rollbackSnapshot } from '../../src/snapshot/rollback.js';
import { StateDir } from '../../src/state/state-dir.js';
import { bytes, chunkSize, sectors } from '../../src/units/units.js';
import { FakePlatform, ORIGIN_PATH } from '../support/fake-platform.js';

const VDC = deviceNumber(254, 32);
let stateDir: string;
let etc: string;
let p: FakePlatform;
const log: string[] = [];
const tables = () => ({ fstab: path.join(etc, 'fstab'), crypttab: path.join(etc, 'crypttab') });
const opts = () => ({ stateDir, platform: p, log: (l: string) => log.push(l), tables: tables() });
const tableOf = (name: string) => formatTable(p.dm.table(name), p.dm.features());
/** The passthrough's node, as udev or our mknod would make it. */
const node = () => p.paths.set('/dev/mapper/snapstore-home', p.dm.info('snapstore-home').dev);

beforeEach(() => {
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-enroll-'));
  etc = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-etc-'));
  p = new FakePlatform();
  p.addPlain('vdc', VDC, 1 << 20, '7a11-03', 'ext4', { fsUuid: '5e1f-0d0a', fsLabel: 'home' });
  log.length = 0;
});
afterEach(() => {
  fs.rmSync(stateDir, { recursive: true, force: true });
  fs.rmSync(etc, { recursive: true, force: true });
});

describe('enroll', () => {
  it('maps an unmounted partition as /dev/mapper/snapstore-NAME now, records it by its PARTUUID, and says what to put in fstab (it has none)', async () => {
    const r = await enrollDevice({ ...opts(), device: '/dev/vdc', name: 'home' });
    expect(r).toMatchObject({ name: 'home', mappedNow: true });
    expect(tableOf('snapstore-home')).toBe(`0 ${1 << 20} linear 254:32 0`);
    expect(p.dm.info('snapstore-home').uuid).toBe('SNAPSTORE-home-origin');
    expect(r.lines).toEqual(['fstab:    /dev/mapper/snapstore-home  /MOUNT/POINT  ext4  defaults  0  2']);
    expect(r.message).toMatch(/fstab does not exist.*never UUID=/);
    expect(r.table).toMatchObject({ outcome: 'manual' });
    expect(findEnrolled(StateDir.need(stateDir), 'home')).toMatchObject({ partUuid: '7a11-03', kernelName: 'vdc', sectors: 1 << 20, fsType: 'ext4' });
  });

  it('while the partition is mounted directly, records it; the next boot maps it before anything mounts it', async () => {
    p.mountPlain('vdc', '/home');
    const r = await enrollDevice({ ...opts(), device: '/dev/vdc', name: 'home' });
    expect(r.mappedNow).toBe(false);
    expect(r.message).toMatch(/mounted directly at \/home.*next boot/);
    expect(r.lines[0]).toMatch(/\/dev\/mapper\/snapstore-home  \/home  ext4/);
    expect(p.dm.find('snapstore-home')).toBeUndefined();
    // A checkpoint of the partition itself is refused until then, naming the way out.
    await expect(createSnapshot({ ...opts(), name: 'c', origin: '/dev/vdc', store: '/home/.snapstore/c.store', size: bytes(16 << 20), chunk: chunkSize(bytes(4096)), mode: 'checkpoint' })).rejects.toMatchObject({
      code: 'ORIGIN_UNSUPPORTED',
      message: expect.stringMatching(/plain disk or partition/),
      hint: expect.stringMatching(/snapstore enroll/),
    });
    p.reboot();
    const [m] = await activateSnapshots(opts());
    expect(m).toMatchObject({ name: 'home', action: 'mapped' });
    expect((await activateSnapshots(opts()))[0]).toMatchObject({ action: 'already-mapped' });
  });

  it('a LUKS partition: crypttab opens the passthrough', async () => {
    p.plain.get('vdc')!.fsType = 'crypto_LUKS';
    const r = await enrollDevice({ ...opts(), device: '/dev/vdc', name: 'home' });
    expect(r.lines).toEqual(['crypttab: home-crypt  /dev/mapper/snapstore-home  none  luks', 'fstab:    /dev/mapper/home-crypt  /MOUNT/POINT  auto  defaults  0  2']);
  });

  const refusals: [string, () => Promise<unknown> | void, { device?: string; name?: string }, RegExp][] = [
    ['a dm device (it needs no enrolling)', () => {}, { device: ORIGIN_PATH }, /is the dm device data: checkpoints work on it as it is/],
    ['a partition something is stacked on', () => void p.dm.createDeviceNow('other', [new LinearTarget(sectors(8), VDC, sectors(0))]), {}, /is held by other/],
    ['a name enrolled already, for another partition', () => enrollDevice({ ...opts(), device: '/dev/vdc', name: 'home' }), { device: '/dev/vdd' }, /a device is enrolled as "home" already/],
    ['a partition enrolled already, under another name', () => enrollDevice({ ...opts(), device: '/dev/vdc', name: 'home' }), { name: 'away' }, /\/dev\/vdc is enrolled already, as "home"/],
  ];
  it.each(refusals)('refuses %s, changing nothing', async (_what, arrange, change, why) => {
    p.addPlain('vdd', deviceNumber(254, 48), 1 << 20, '7a11-04');
    await arrange();
    const before = p.dm.names();
    const had = fs.readdirSync(stateDir);
    await expect(enrollDevice({ ...opts(), device: '/dev/vdc', name: 'home', ...change })).rejects.toMatchObject({ code: 'ENROLL_REFUSED', message: expect.stringMatching(why) });
    expect(p.dm.names()).toEqual(before);
    expect(fs.readdirSync(stateDir)).toEqual(had);
  });
});

describe("the boot's tables: fstab (crypttab) edited so that the next boot mounts through the passthrough", () => {
  const FSTAB = '# static file system information\nUUID=0a1b /  ext4  errors=remount-ro  0  1\nUUID=5e1f-0d0a\t/home\text4\tdefaults,nofail\t0\t2\n';
  const write = (file: 'fstab' | 'crypttab', text: string, mode = 0o644) => {
    fs.writeFileSync(tables()[file], text);
    fs.chmodSync(tables()[file], mode);
  };
  const read = (file: 'fstab' | 'crypttab') => fs.readFileSync(tables()[file], 'utf8');

  it('given the mount point: the fstab entry that names the filesystem (UUID=) now names the passthrough; a rerun changes nothing; unenroll puts the line back byte for byte', async () => {
    write('fstab', FSTAB);
    p.mountPlain('vdc', '/home');
    const r = await enrollDevice({ ...opts(), device: '/home', name: 'home' });
    expect(r).toMatchObject({ mappedNow: false, lines: [], table: { outcome: 'rewritten', before: 'UUID=5e1f-0d0a\t/home\text4\tdefaults,nofail\t0\t2', after: '/dev/mapper/snapstore-home\t/home\text4\tdefaults,nofail\t0\t2' } });
    expect(read('fstab')).toBe(FSTAB.replace('UUID=5e1f-0d0a\t', '# snapstore enroll "home", before: UUID=5e1f-0d0a\t/home\text4\tdefaults,nofail\t0\t2\n/dev/mapper/snapstore-home\t'));
    expect(fs.statSync(tables().fstab).mode & 0o777).toBe(0o644);
    expect(findEnrolled(StateDir.need(stateDir), 'home')).toMatchObject({ kernelName: 'vdc' });
    const edited = read('fstab');
    expect((await enrollDevice({ ...opts(), device: '/home', name: 'home' })).table).toMatchObject({ outcome: 'already' });
    expect(read('fstab')).toBe(edited);
    p.reboot();
    p.mountPlain('vdc', undefined);
    await activateSnapshots(opts());
    const u = await unenrollDevice({ ...opts(), name: 'home' });
    expect(u.restored).toEqual({ file: tables().fstab, line: 'UUID=5e1f-0d0a\t/home\text4\tdefaults,nofail\t0\t2' });
    expect(read('fstab')).toBe(FSTAB);
    expect(fs.readdirSync(etc).sort()).toEqual(['fstab']);
  });

  it('LUKS: the crypttab entry that names the partition now names the passthrough; fstab (the crypt device) is left alone', async () => {
    p.plain.get('vdc')!.fsType = 'crypto_LUKS';
    write('fstab', '/dev/mapper/home-crypt /home ext4 defaults 0 2\n');
    write('crypttab', 'home-crypt PARTUUID=7A11-03 none luks,discard\n', 0o600);
    const r = await enrollDevice({ ...opts(), device: '/dev/vdc', name: 'home' });
    expect(r.table).toMatchObject({ file: tables().crypttab, outcome: 'rewritten', after: 'home-crypt /dev/mapper/snapstore-home none luks,discard' });
    expect(read('fstab')).toBe('/dev/mapper/home-crypt /home ext4 defaults 0 2\n');
    expect(fs.statSync(tables().crypttab).mode & 0o777).toBe(0o600);
    await unenrollDevice({ ...opts(), name: 'home' });
    expect(read('crypttab')).toBe('home-crypt PARTUUID=7A11-03 none luks,discard\n');
  });

  it('no entry, or two, names the partition: the table is left alone and the line to write is printed, with why', async () => {
    write('fstab', 'LABEL=home /a ext4 defaults 0 2\n/dev/vdc /b ext4 defaults 0 2\n');
    const r = await enrollDevice({ ...opts(), device: '/dev/vdc', name: 'home' });
    expect(r.table).toMatchObject({ outcome: 'manual', why: expect.stringMatching(/2 fstab entries name the partition/) });
    expect(r.lines).toEqual(['fstab:    /dev/mapper/snapstore-home  /MOUNT/POINT  ext4  defaults  0  2']);
    expect(read('fstab')).toBe('LABEL=home /a ext4 defaults 0 2\n/dev/vdc /b ext4 defaults 0 2\n');
  });

  it('--print-only leaves the table alone', async () => {
    write('fstab', FSTAB);
    const r = await enrollDevice({ ...opts(), device: '/dev/vdc', name: 'home', printOnly: true });
    expect(r.table).toBeUndefined();
    expect(r.lines).toHaveLength(1);
    expect(read('fstab')).toBe(FSTAB);
  });

  const untrusted: [string, () => void, RegExp][] = [
    ['writable by others', () => write('fstab', FSTAB, 0o666), /is writable by others than root \(mode 666\)/],
    ['a symbolic link', () => { write('crypttab', FSTAB); fs.symlinkSync(tables().crypttab, tables().fstab); }, /is a symbolic link/],
    ['in a folder others can write', () => { write('fstab', FSTAB); fs.chmodSync(etc, 0o777); }, /which is writable by others than root/],
  ];
  it.each(untrusted)('an fstab %s is not believed: refused before anything is made', async (_what, arrange, why) => {
    arrange();
    const had = fs.readdirSync(stateDir);
    await expect(enrollDevice({ ...opts(), device: '/dev/vdc', name: 'home' })).rejects.toMatchObject({ code: 'TABLE_UNTRUSTED', message: why, hint: expect.stringMatching(/--print-only/) });
    expect(p.dm.find('snapstore-home')).toBeUndefined();
    expect(fs.readdirSync(stateDir)).toEqual(had);
  });

  it('a crash after the record, before the table: the rerun finishes the edit', async () => {
    write('fstab', FSTAB);
    setFaultHandler((l) => {
      if (l === 'after:record enrolled') throw new SimulatedCrash(l);
    });
    try {
      await expect(enrollDevice({ ...opts(), device: '/dev/vdc', name: 'home' })).rejects.toBeInstanceOf(SimulatedCrash);
    } finally {
      setFaultHandler(undefined);
    }
    expect(read('fstab')).toBe(FSTAB);
    const r = await enrollDevice({ ...opts(), device: '/dev/vdc', name: 'home' });
    expect(r.message).toMatch(/"home" was enrolled already/);
    expect(r.table).toMatchObject({ outcome: 'rewritten' });
    expect(p.dm.find('snapstore-home')).toBeDefined();
  });

  it('a failed table write (its folder immutable) undoes the record and the passthrough', async () => {
    write('fstab', FSTAB);
    execFileSync('chattr', ['+i', etc]);
    try {
      await expect(enrollDevice({ ...opts(), device: '/dev/vdc', name: 'home' })).rejects.toMatchObject({ message: expect.stringMatching(/undone: \/dev\/mapper\/snapstore-home, the enrollment record of "home"/) });
    } finally {
      execFileSync('chattr', ['-i', etc]);
    }
    expect(p.dm.find('snapstore-home')).toBeUndefined();
    expect(findEnrolled(StateDir.need(stateDir), 'home')).toBeUndefined();
    expect(read('fstab')).toBe(FSTAB);
    expect(fs.readdirSync(etc)).toEqual(['fstab']);
  });
});

describe('a checkpoint of an enrolled partition', () => {
  it('goes over the passthrough; after a reboot activate maps the partition first, then the checkpoint; recover leaves the passthrough alone; rollback and unenroll', async () => {
    await enrollDevice({ ...opts(), device: '/dev/vdc', name: 'home' });
    node();
    const c = await createSnapshot({ ...opts(), name: 'c', origin: '/dev/mapper/snapstore-home', store: '/data/.snapstore/c.store', size: bytes(16 << 20), chunk: chunkSize(bytes(4096)), mode: 'checkpoint' });
    expect(c.manifest?.origin.dmName).toBe('snapstore-home');
    expect(tableOf('snapstore-home')).toMatch(/snapshot-origin/);
    expect(tableOf('snapstore-c-real')).toBe(`0 ${1 << 20} linear 254:32 0`);
    await expect(unenrollDevice({ ...opts(), name: 'home' })).rejects.toMatchObject({ code: 'ENROLL_REFUSED', message: expect.stringMatching(/snapshot "c" \(active\) is of snapstore-home/) });

    p.reboot();
    const r = await activateSnapshots(opts());
    expect(r.map((x) => [x.name, x.action])).toEqual([
      ['home', 'mapped'],
      ['c', 'activated'],
    ]);
    expect((await recoverSnapshots(opts())).actions).toEqual([]);
    expect(p.dm.find('snapstore-home')).toBeDefined();
    p.dm.statusOnLive.set('snapstore-home', '16/32768 16');
    expect((await rollbackSnapshot({ ...opts(), name: 'c', wait: true })).outcome).toBe('rolled-back');
    expect(tableOf('snapstore-home')).toBe(`0 ${1 << 20} linear 254:32 0`);

    const u = await unenrollDevice({ ...opts(), name: 'home' });
    expect(u).toMatchObject({ removedNow: true });
    expect(u.message).toMatch(/PARTUUID=7a11-03/);
    expect(p.dm.find('snapstore-home')).toBeUndefined();
    expect(findEnrolled(StateDir.need(stateDir), 'home')).toBeUndefined();
    await expect(unenrollDevice({ ...opts(), name: 'home' })).rejects.toMatchObject({ code: 'NOT_ENROLLED' });
  });

  it('unenroll while the passthrough is in use: the record goes, the device with the next boot', async () => {
    await enrollDevice({ ...opts(), device: '/dev/vdc', name: 'home' });
    p.dm.open('snapstore-home');
    const u = await unenrollDevice({ ...opts(), name: 'home' });
    expect(u).toMatchObject({ removedNow: false });
    expect(u.message).toMatch(/goes with the next boot/);
    p.reboot();
    expect(await activateSnapshots(opts())).toEqual([]);
    expect(p.dm.find('snapstore-home')).toBeUndefined();
    await expect(commitSnapshot({ ...opts(), name: 'nothing' })).rejects.toMatchObject({ code: 'NO_SUCH_SNAPSHOT' });
  });
});

describe('a LUKS partition enrolled: the checkpoint goes beneath the crypt layer', () => {
  const KEYRING_CRYPT = (below: { major: number; minor: number }) => new OtherTarget('crypt', sectors((1 << 20) - 32768), `aes-xts-plain64 :64:logon:cryptsetup:7a11-d0 0 ${below.major}:${below.minor} 32768`);

  it('given the crypt device (its key in the keyring), the snapshot is put on the passthrough beneath it: no key needed, the store mapped past the data offset, the filesystem above frozen first', async () => {
    p.plain.get('vdc')!.fsType = 'crypto_LUKS';
    await enrollDevice({ ...opts(), device: '/dev/vdc', name: 'home' });
    node();
    // crypttab opens the passthrough, with cryptsetup's defaults; the filesystem on it is mounted.
    const crypt = p.dm.createDeviceNow('home-crypt', [KEYRING_CRYPT(p.dm.info('snapstore-home').dev)]);
    p.paths.set('/dev/mapper/home-crypt', crypt);
    p.mounts.set(formatDeviceNumber(crypt), '/home');
    p.dm.mount('home-crypt', '/home');
    p.storeFsDm = 'home-crypt';
    const c = await createSnapshot({ ...opts(), name: 'c', origin: '/dev/mapper/home-crypt', store: '/home/.snapstore/c.store', size: bytes(16 << 20), chunk: chunkSize(bytes(4096)), mode: 'checkpoint' });
    expect(c.manifest).toMatchObject({ origin: { dmName: 'snapstore-home' }, beneath: { crypt: 'home-crypt', offset: 32768 } });
    // The crypt table is never loaded again (its key is not ours to have); the passthrough beneath carries the snapshot.
    expect(tableOf('home-crypt')).toMatch(/:64:logon:cryptsetup:/);
    expect(tableOf('snapstore-home')).toMatch(/snapshot-origin/);
    const real = p.dm.info('snapstore-c-real').dev;
    // The fake store's pieces lie at 64 MiB + ... on the crypt device: on real, 32768 sectors further.
    expect(tableOf('snapstore-c-cow').split('\n')[0]).toBe(`0 8192 linear ${real.major}:${real.minor} ${180224 + 32768}`);
    // Its header zeroed again beneath the crypt layer, where the snapshot reads it (through the crypt it was zeroed encrypted).
    expect(p.zeroed).toEqual(['snapstore-c-cow']);
    const ops = p.dm.ops.filter((o) => /^(suspend|resume) (home-crypt|snapstore-home)$/.test(o));
    expect(ops.slice(-4)).toEqual(['suspend home-crypt', 'suspend snapstore-home', 'resume snapstore-home', 'resume home-crypt']);
    // Rolled back while the filesystem above is mounted: pending, as for any mounted origin.
    expect((await rollbackSnapshot({ ...opts(), name: 'c' })).outcome).toBe('pending');
    // --offline cannot read a store beneath a crypt layer: refused, nothing changed.
    p.mounts.clear();
    p.dm.mount('home-crypt', undefined);
    await expect(rollbackSnapshot({ ...opts(), name: 'c', offline: true })).rejects.toMatchObject({ code: 'STACK_UNSUPPORTED', message: expect.stringMatching(/beneath the crypt layer/) });
    // After a reboot, activate maps the passthrough and rebuilds the checkpoint before the crypt layer is opened.
    p.reboot();
    const r = await activateSnapshots(opts());
    expect(r.map((x) => [x.name, x.action])).toEqual([
      ['home', 'mapped'],
      ['c', 'merge-started'],
    ]);
    expect(tableOf('snapstore-home')).toMatch(/snapshot-merge/);
  });
});

describe('enroll, crashed at every fault point', () => {
  it('leaves the record and the passthrough together after the next activate, or neither', async () => {
    const labels: string[] = [];
    setFaultHandler((l) => void labels.push(l));
    try {
      await enrollDevice({ ...opts(), device: '/dev/vdc', name: 'home' });
    } finally {
      setFaultHandler(undefined);
    }
    expect(labels.length).toBeGreaterThan(2);
    for (const label of labels) {
      fs.rmSync(stateDir, { recursive: true, force: true });
      fs.mkdirSync(stateDir, { mode: 0o700 });
      p = new FakePlatform();
      p.addPlain('vdc', VDC, 1 << 20, '7a11-03');
      setFaultHandler((l) => {
        if (l === label) throw new SimulatedCrash(l);
      });
      try {
        await enrollDevice({ ...opts(), device: '/dev/vdc', name: 'home' }).catch((e: unknown) => {
          if (!(e instanceof SimulatedCrash)) throw e;
        });
      } finally {
        setFaultHandler(undefined);
      }
      p.reboot();
      await activateSnapshots(opts());
      const recorded = fs.existsSync(path.join(stateDir, 'enrolled', 'home.json'));
      expect(p.dm.find('snapstore-home') !== undefined, label).toBe(recorded);
    }
  });
});
