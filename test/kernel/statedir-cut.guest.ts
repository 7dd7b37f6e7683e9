// The state directory on a disk that drops unflushed writes: dm-flakey is
// switched to drop_writes at a random moment while a worker rewrites a
// snapshot's manifest again and again through the code the lifecycle uses
// (writeSnapshot: temp file, fsync, rename, fsync of the folder); the
// filesystem is then unmounted (what it still wanted to write is lost, as
// in a power cut) and mounted again. At every cut point the manifest must
// be one of the versions written, whole: never torn, never missing.
import { randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { decodeSnapshotManifest } from '../../src/snapshot/manifest.js';
import { guestDisk, requireGuest, run } from '../vm/guest.js';
import { sectorsOf, sh } from './lifecycle-helpers.js';

requireGuest();
const CUTS = Number(process.env['STATEDIR_CUTS'] ?? 20);
const MNT = '/tmp/mnt/flaky';
let dev: string;
let sectors: number;

const up = () => `0 ${sectors} flakey ${dev} 0 1000 0`;
const dropping = () => `0 ${sectors} flakey ${dev} 0 0 1000 1 drop_writes`;
function table(t: string): void {
  run('dmsetup', ['load', 'flaky', '--table', t]);
  run('dmsetup', ['resume', 'flaky']);
}

// The worker: the manifest of snapshot "s" rewritten with a growing history, through dist/ (the code the CLI runs).
const WORKER = `
const { workerData } = require('node:worker_threads');
(async () => {
  const { writeFileAtomic } = await import(workerData.files);
  const dir = workerData.dir;
  const progress = new Int32Array(workerData.progress);
  for (let v = 1; ; v++) {
    Atomics.store(progress, 0, v);
    const history = Array.from({ length: v % 50 }, (_, i) => ({ at: '2026-11-30T00:00:00.000Z', state: 'active', note: 'entry ' + i + ' '.repeat(i * 7) }));
    const m = { version: 1, name: 's', mode: 'checkpoint', state: 'active', origin: { dmName: 'data', dmUuid: '', sectors: v }, store: 's', chunkSize: 4096,
      createdAt: '2026-11-30T00:00:00.000Z', updatedAt: new Date().toISOString(), history };
    writeFileAtomic(dir + '/s.json', JSON.stringify(m, null, 1) + '\\n');
    Atomics.store(progress, 1, v);
  }
})();
`;

beforeAll(() => {
  dev = guestDisk('flaky');
  sectors = sectorsOf(dev);
  run('dmsetup', ['create', 'flaky', '--table', up()]);
  run('mkfs.ext4', ['-qF', '/dev/mapper/flaky']);
  fs.mkdirSync(MNT, { recursive: true });
});
afterAll(() => sh(`umount ${MNT} 2>/dev/null; dmsetup remove flaky; true`));

test(`at ${CUTS} random cut points the manifest is a whole version that was written, never torn or missing`, async () => {
  const seen: number[] = [];
  for (let cut = 0; cut < CUTS; cut++) {
    run('mount', ['/dev/mapper/flaky', MNT]);
    const dir = path.join(MNT, 'snapshots');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // [0]: the version being written, [1]: the last one whose writeFileAtomic returned.
    const progress = new Int32Array(new SharedArrayBuffer(8));
    const worker = new Worker(WORKER, { eval: true, workerData: { dir, progress: progress.buffer, files: path.resolve('dist/state/files.js') } });
    while (Atomics.load(progress, 1) < 3) await sleep(5);
    await sleep(randomInt(300));
    const lastDone = Atomics.load(progress, 1);
    table(dropping()); // from here every write is lost
    await worker.terminate();
    const lastStarted = Atomics.load(progress, 0);
    run('umount', [MNT]);
    table(up());
    run('mount', ['/dev/mapper/flaky', MNT]);
    const file = path.join(dir, 's.json');
    expect(fs.existsSync(file), `cut ${cut}`).toBe(true);
    const m = decodeSnapshotManifest(file, fs.readFileSync(file, 'utf8'));
    // A whole version: at least the last one that was durable before the cut, at most the last one begun.
    expect(m.origin.sectors).toBeGreaterThanOrEqual(lastDone);
    expect(m.origin.sectors).toBeLessThanOrEqual(lastStarted);
    seen.push(lastDone - m.origin.sectors);
    for (const f of fs.readdirSync(dir)) if (f !== 's.json') fs.rmSync(path.join(dir, f));
    fs.rmSync(file);
    run('umount', [MNT]);
  }
  console.log(`cut points: ${CUTS}; versions behind the last one acknowledged: ${JSON.stringify(seen)}`);
}, 120_000 + CUTS * 20_000);
