// Guest side of the growth suite, boot 1 (host side: growth.test.ts; boot 2:
// growth-after.guest.ts). The extension hazard on ext4 and xfs: a filesystem
// filled with files, a checkpoint, every file deleted, new data written while
// the store grows several times into the freed space: with the check, no
// freed block joins the store's map; with the test-only switch off, freed
// blocks do and store data lands in them (boot 2 rolls back: the files come
// back intact only with the check). And extension under I/O: a writer runs
// through the origin while the store grows ten times: no I/O error, no lost
// write.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mapFile } from '../../src/fiemap/map-file.js';
import { commitSnapshot } from '../../src/snapshot/commit.js';
import { createSnapshot } from '../../src/snapshot/create.js';
import { extendSnapshot } from '../../src/snapshot/extend.js';
import { snapshotStatus } from '../../src/snapshot/status.js';
import { StateDir } from '../../src/state/state-dir.js';
import { readManifest } from '../../src/store/manifest.js';
import { bytes, chunkSize, parseSize } from '../../src/units/units.js';
import { requireGuest, run } from '../vm/guest.js';
import { blocks, bootDevices, dev, fileSha, HAZARD, mnt, sha, type HazardKey } from './growth-system.js';
import { META, mountMeta, sh, STATE } from './lifecycle-helpers.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';
const MiB = 1 << 20;
const chunk = chunkSize(bytes(4096));
const opts = { stateDir: STATE, log: () => {} };

function mkfs(key: string, type: 'ext4' | 'xfs'): void {
  run(type === 'ext4' ? 'mkfs.ext4' : 'mkfs.xfs', type === 'ext4' ? ['-qF', '-b', '4096', dev(key)] : ['-qf', dev(key)]);
  fs.mkdirSync(mnt(key), { recursive: true });
  run('mount', [dev(key), mnt(key)]);
  fs.mkdirSync(`${mnt(key)}/.snapstore`, { mode: 0o700 });
}

const avail = (path: string): number => {
  const s = fs.statfsSync(path);
  return s.bavail * s.bsize;
};

/** xfs frees a deleted file's blocks in the background: wait until statfs stops changing. */
function settle(path: string): void {
  sh('sync');
  for (let last = -1, i = 0; i < 50; i++) {
    const now = avail(path);
    if (now === last) return;
    last = now;
    sh('sleep 0.2; sync');
  }
}

const overlaps = (a0: number, a1: number, b0: number, b1: number) => a0 < b1 && b0 < a1;

describe('growth, boot 1', () => {
  beforeAll(() => {
    mountMeta(true);
    bootDevices();
  });
  afterAll(() => sh('sync; umount /tmp/mnt/* 2>/dev/null; true'));

  test.each(HAZARD)('the extension hazard, $type, check $check: files deleted after create, the store grown into the freed space', async ({ key, type, check }) => {
    mkfs(key, type);
    const root = `${mnt(key)}/.snapstore`;
    // Fill the filesystem with 1 MiB files until 64 MiB are left.
    const hashes: Record<string, string> = {};
    let n = 0;
    while (avail(mnt(key)) > 64 * MiB) {
      const name = `f${String(n).padStart(4, '0')}`;
      const data = blocks(`${key}/${name}`, 1);
      fs.writeFileSync(`${root}/${name}`, data);
      hashes[name] = sha(data);
      n++;
    }
    settle(mnt(key));
    // Room for the store among the files (so that its growth meets freed blocks first).
    const room = Math.floor(n / 4);
    for (let i = room; i < room + 20; i++) {
      const name = `f${String(i).padStart(4, '0')}`;
      fs.rmSync(`${root}/${name}`);
      delete hashes[name];
    }
    settle(mnt(key));
    const r = await createSnapshot({ ...opts, name: key, origin: dev(key), store: `${root}/${key}.store`, size: parseSize('16M'), chunk, mode: 'checkpoint' });
    expect(r.manifest?.state).toBe('active');
    // Where the files are (their blocks, which the update frees).
    const used: Array<[number, number]> = [];
    for (const name of Object.keys(hashes)) {
      const m = mapFile(`${root}/${name}`, chunk);
      for (let i = 0; i < m.extents.count; i++) used.push([m.extents.physical[i]!, m.extents.physical[i]! + m.extents.length[i]!]);
    }
    for (const name of Object.keys(hashes)) fs.rmSync(`${root}/${name}`);
    settle(mnt(key));

    // The update: new data, the store grown whenever it is 60% full.
    if (!check) process.env['SNAPSTORE_TEST_NO_HAZARD_CHECK'] = '1';
    let heldBack = 0;
    let extensions = 0;
    try {
      for (let round = 0; round < 4; round++) {
        fs.writeFileSync(`${mnt(key)}/new-${round}`, blocks(`${key}/new-${round}`, 6));
        sh('sync');
        for (;;) {
          const [s] = snapshotStatus({ stateDir: STATE, name: key });
          expect(s!.health).toBe('valid');
          if (s!.usage!.used < s!.usage!.total * 0.6) break;
          // 16 MiB at a time, less when the filesystem has less (the held-back blocks take room too).
          const by = Math.min(16 * MiB, Math.floor((avail(mnt(key)) - 4 * MiB) / 4096) * 4096);
          expect(by, `${key}: the filesystem is full after ${extensions} extensions (${heldBack / MiB} MiB held back)`).toBeGreaterThan(0);
          const x = await extendSnapshot({ ...opts, name: key, by: bytes(by), keepFree: { bytes: bytes(2 * MiB) } });
          heldBack += x.heldBack;
          extensions++;
        }
      }
    } finally {
      delete process.env['SNAPSTORE_TEST_NO_HAZARD_CHECK'];
    }
    const [s] = snapshotStatus({ stateDir: STATE, name: key });
    expect(s).toMatchObject({ health: 'valid', agrees: true });
    expect(extensions).toBeGreaterThanOrEqual(2);
    // The store's new segments against the freed files' blocks.
    const store = readManifest(StateDir.need(STATE), key);
    const grown = store.segments.filter((g) => g.storeOffset >= 16 * MiB);
    const inFreed = grown.filter((g) => used.some(([a, b]) => overlaps(g.physical, g.physical + g.length, a, b)));
    const written = inFreed.filter((g) => g.storeOffset < s!.usage!.used);
    const seg = (g: { storeOffset: number; physical: number; length: number }) => `${g.storeOffset / MiB}M@${(g.physical / MiB).toFixed(2)}M+${g.length / 1024}K`;
    const freedSpan = used.length ? `${(Math.min(...used.map((u) => u[0])) / MiB).toFixed(1)}M..${(Math.max(...used.map((u) => u[1])) / MiB).toFixed(1)}M` : 'none';
    const report = `${key}: ${extensions} extensions, store ${store.usableBytes / MiB} MiB usable, ${s!.usage!.used / MiB} MiB used, ${heldBack / MiB} MiB held back; ${inFreed.length} new segments over freed blocks, ${written.length} holding store data; freed files span ${freedSpan}; segments ${store.segments.slice(0, 12).map(seg).join(' ')}`;
    fs.writeFileSync(`${META}/hazard-${key}.report`, report);
    if (check) {
      // The scenario offered freed blocks, and the check held them back.
      expect({ heldBack: heldBack > 0, inFreed: inFreed.length }, report).toEqual({ heldBack: true, inFreed: 0 });
    } else {
      // Store data over blocks the rollback needs: boot 2 shows the damage.
      expect({ heldBack, holdingData: written.length > 0 }, report).toEqual({ heldBack: 0, holdingData: true });
    }
    fs.writeFileSync(`${META}/hazard-${key}.json`, JSON.stringify(hashes));
    run('umount', [mnt(key)]);
  });

  test('extension under I/O: a writer through the origin while the store grows ten times: no I/O error, no lost write', async () => {
    mkfs('io', 'ext4');
    const r = await createSnapshot({ ...opts, name: 'io', origin: dev('io'), store: `${mnt('io')}/.snapstore/io.store`, size: parseSize('16M'), chunk, mode: 'checkpoint' });
    expect(r.manifest?.state).toBe('active');
    const pattern = blocks('io/pattern', 2);
    fs.writeFileSync('/tmp/io-pattern', pattern);
    // dd with O_DIRECT, 30 files of 2 MiB one after another, in a process of its own.
    const writer = spawn('sh', ['-c', `for i in $(seq 1 30); do dd if=/tmp/io-pattern of=${mnt('io')}/w-$i bs=1M oflag=direct conv=fsync status=none || exit 1; done`], { stdio: 'inherit' });
    const exited = new Promise<number>((resolve) => writer.on('exit', (code) => resolve(code ?? -1)));
    let grown = 0;
    for (let i = 0; i < 10; i++) {
      const x = await extendSnapshot({ ...opts, name: 'io', by: parseSize('8M'), keepFree: { bytes: bytes(2 * MiB) } });
      expect(x.after).toBeGreaterThan(x.before);
      grown++;
    }
    expect(await exited).toBe(0);
    expect(grown).toBe(10);
    sh('sync; echo 3 > /proc/sys/vm/drop_caches');
    for (let i = 1; i <= 30; i++) expect(fileSha(`${mnt('io')}/w-${i}`), `w-${i}`).toBe(sha(pattern));
    const [s] = snapshotStatus({ stateDir: STATE, name: 'io' });
    expect({ health: s!.health, problems: s!.problems }, JSON.stringify(s!.usage)).toEqual({ health: 'valid', problems: [] });
    expect(s!.usage!.total).toBeGreaterThan(90 * MiB);
    expect(sh('dmesg')).not.toMatch(/I\/O error|Buffer I\/O error|blk_update_request/);
    expect((await commitSnapshot({ ...opts, name: 'io' })).outcome).toBe('committed');
  });
});
