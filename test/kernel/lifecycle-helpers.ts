// Shared by the lifecycle guest files: the "system" that sets up the origin
// devices at boot (as a real system's passthroughs would be), trees of real
// files with their checksums, an update that unpacks a Debian package,
// deletes and overwrites, and small wrappers over mount and fsck.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { guestDisk, loadModule, run } from '../vm/guest.js';

export const META = '/tmp/mnt/meta';
export const STATE = '/tmp/mnt/meta/state';

export function sh(script: string): string {
  return run('sh', ['-c', script]);
}

/** The metadata disk: the state directory lives here (not on any origin), and what boot 1 saw, for boot 2. */
export function mountMeta(format: boolean): void {
  const dev = guestDisk('meta');
  if (format) run('mkfs.ext4', ['-q', '-F', dev]);
  fs.mkdirSync(META, { recursive: true });
  run('mount', [dev, META]);
}

export function sectorsOf(dev: string): number {
  return Number(run('blockdev', ['--getsz', dev]).trim());
}

/** A passthrough `name` over the disk `disk`, as the system sets one up at boot. */
export function passthrough(name: string, disk: string): string {
  const dev = guestDisk(disk);
  run('dmsetup', ['create', name, '--table', `0 ${sectorsOf(dev)} linear ${dev} 0`]);
  return `/dev/mapper/${name}`;
}

export function loadCrypt(): void {
  for (const m of ['af_alg', 'algif_skcipher', 'ecb', 'xts', 'dm-crypt']) loadModule(m);
}

/** One file's identity in a tree: its type, mode, size and content. */
type Entry = string;

/** Every file, folder and link under `root` (but .snapstore and lost+found) with what it holds. */
export function tree(root: string): Record<string, Entry> {
  const out: Record<string, Entry> = {};
  const walk = (dir: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const rel = path.relative(root, path.join(dir, name));
      if (rel === '.snapstore' || rel === 'lost+found') continue;
      const p = path.join(dir, name);
      const st = fs.lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[rel] = `link ${fs.readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[rel] = `dir ${mode}`;
        walk(p);
      } else out[rel] = `file ${mode} ${st.size} ${createHash('sha256').update(fs.readFileSync(p)).digest('hex')}`;
    }
  };
  walk(root);
  return out;
}

export function saveTree(name: string, t: Record<string, Entry>): void {
  fs.mkdirSync(path.join(META, 'trees'), { recursive: true });
  fs.writeFileSync(path.join(META, 'trees', `${name}.json`), JSON.stringify(t));
}

export function loadTree(name: string): Record<string, Entry> {
  return JSON.parse(fs.readFileSync(path.join(META, 'trees', `${name}.json`), 'utf8')) as Record<string, Entry>;
}

/**
 * About five hundred real files: three regions of the time zone database and
 * 150 packages' copyright files, copied in this process (a process per file
 * costs a tenth of a second under emulation; each file is read over 9p and
 * hashed, so thousands cost minutes a boot).
 */
export function fillWithFiles(mnt: string): number {
  for (const zone of ['America', 'Europe', 'Asia', 'UTC']) {
    fs.cpSync(path.join('/usr/share/zoneinfo', zone), path.join(mnt, 'zoneinfo', zone), { recursive: true, verbatimSymlinks: true });
  }
  for (const pkg of fs.readdirSync('/usr/share/doc').sort().slice(0, 150)) {
    const from = path.join('/usr/share/doc', pkg, 'copyright');
    if (!fs.existsSync(from)) continue;
    fs.mkdirSync(path.join(mnt, 'doc', pkg), { recursive: true });
    fs.copyFileSync(from, path.join(mnt, 'doc', pkg, 'copyright'));
  }
  sh('sync');
  return Object.keys(tree(mnt)).length;
}

/** A small Debian package, built once in /tmp from real files. */
export function debianPackage(): string {
  const deb = '/tmp/snapstore-update.deb';
  if (fs.existsSync(deb)) return deb;
  const root = '/tmp/snapstore-update-pkg';
  sh(`rm -rf ${root} && mkdir -p ${root}/DEBIAN ${root}/opt/update && cp -a /usr/share/common-licenses ${root}/opt/update/ && cp -a /usr/share/zoneinfo/Europe ${root}/opt/update/zones`);
  fs.writeFileSync(`${root}/DEBIAN/control`, 'Package: snapstore-update\nVersion: 2.0\nArchitecture: all\nMaintainer: test <test@example.org>\nDescription: an update\n');
  run('dpkg-deb', ['--build', '--root-owner-group', root, deb]);
  return deb;
}

/** An update while mounted: a package unpacked, a folder deleted, files overwritten and added. */
export function update(mnt: string): void {
  run('dpkg-deb', ['-x', debianPackage(), mnt]);
  sh(`rm -rf ${mnt}/zoneinfo/America ${mnt}/doc/a*`);
  for (const f of ['zoneinfo/UTC', 'zoneinfo/Europe/Paris', 'zoneinfo/Asia/Tokyo']) {
    if (fs.existsSync(path.join(mnt, f))) fs.writeFileSync(path.join(mnt, f), randomBytes(3000));
  }
  fs.writeFileSync(path.join(mnt, 'release'), 'version 2\n');
  fs.writeFileSync(path.join(mnt, 'new-data.bin'), randomBytes(2 << 20));
  sh('sync');
}

export function fsck(dev: string, type: 'ext4' | 'xfs'): string {
  return type === 'ext4' ? run('fsck.ext4', ['-fn', dev]) : run('xfs_repair', ['-n', dev]);
}

/**
 * The sha256 of a whole block device, read by `dd` with O_DIRECT and hashed by
 * `sha256sum` (not our code). Direct: the kernel's merge writes the origin
 * beneath its page cache, which keeps what an earlier read saw while a dm
 * table holds the device open.
 */
export function deviceSha(dev: string): string {
  return sh(`dd if=${dev} bs=1M iflag=direct status=none | sha256sum`).split(' ')[0]!;
}

/** What boot 1 measured of the update-mode disks, for boot 2. */
export function saveHashes(h: Record<string, string>): void {
  fs.writeFileSync(path.join(META, 'hashes.json'), JSON.stringify(h));
}

export function loadHashes(): Record<string, string> {
  return JSON.parse(fs.readFileSync(path.join(META, 'hashes.json'), 'utf8')) as Record<string, string>;
}
