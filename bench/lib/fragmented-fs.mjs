// Shared by the host benchmarks: a 1.2 GB ext4 on a loop device whose free space is in
// 4 KiB pieces (all free space allocated, then every other 4 KiB block punched out), so
// a file allocated next can only fill the holes. Needs root and a build (dist/).
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Makes the filesystem, mounted at `mnt` (returned with `work`, its folder), and `cleanup`. */
export async function fragmentedExt4(prefix) {
  const { fallocate, punchHole } = await import(path.join(root, 'dist/linux/fs.js'));
  const { bytes } = await import(path.join(root, 'dist/units/units.js'));
  const sh = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8' });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const mnt = path.join(work, 'mnt');
  fs.mkdirSync(mnt);
  const img = path.join(work, 'fs.img');
  fs.closeSync(fs.openSync(img, 'w'));
  fs.truncateSync(img, 1200 * 1024 * 1024);
  const loop = sh('losetup', ['--find', '--show', img]).trim();
  const cleanup = () => {
    spawnSync('umount', [mnt]);
    spawnSync('losetup', ['-d', loop]);
    fs.rmSync(work, { recursive: true, force: true });
  };
  try {
    sh('mkfs.ext4', ['-q', '-b', '4096', loop]);
    sh('mount', [loop, mnt]);
    const comb = path.join(mnt, 'comb');
    const st = fs.statfsSync(mnt);
    let size = st.bavail * st.bsize - (8 << 20);
    size -= size % 8192;
    const fd = fs.openSync(comb, 'w');
    fallocate(fd, comb, bytes(0), bytes(size));
    for (let at = 0; at < size; at += 8192) punchHole(fd, comb, bytes(at), bytes(4096));
    fs.closeSync(fd);
    sh('sync');
  } catch (err) {
    cleanup();
    throw err;
  }
  return { work, mnt, cleanup };
}
