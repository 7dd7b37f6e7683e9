// Guest side of bench/watch (host: watch.host.ts). Two measures, each beside LVM's way run
// the same way in the same boot (a loop that reads `dmsetup status` every 10 s, a process
// each time, and grows the store by 20% of its size once it is 70% full: dmeventd's snapshot
// autoextend with its usual settings; the growth itself is our `snapstore extend`, so the
// policy is what differs):
//   1. reaction: from the poll that sees the store must grow to the larger store being live
//      (the watcher's `extending` to `extended`), over every extension of a run; the time
//      before that poll is at most one interval (50 ms here; 10 s for LVM's way);
//   2. the fastest paced writer (O_DIRECT 1 MiB writes, 128 MiB of new data) a 16 MiB store
//      survives without going Invalid, for rates 4, 8, 16, 32 MiB/s and as fast as dd can.
import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { afterAll, expect, test } from 'vitest';
import { commitSnapshot } from '../../src/snapshot/commit.js';
import { createSnapshot } from '../../src/snapshot/create.js';
import { extendSnapshot } from '../../src/snapshot/extend.js';
import { snapshotStatus } from '../../src/snapshot/status.js';
import { bytes, chunkSize, parseSize } from '../../src/units/units.js';
import { watchSnapshots, type WatchEvent } from '../../src/watch/watcher.js';
import { requireGuest, resultsDir, run } from '../../test/vm/guest.js';
import { ext4, median, metaDir, MiB, passthrough, round, ROOT, sh, snapUsage } from '../lifecycle/guest-common.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';
const MNT = `${ROOT}/wb`;
const tables: { caption: string; rows: Record<string, unknown>[] }[] = [];
const notes: string[] = [];
afterAll(() => fs.writeFileSync(`${resultsDir}/watch.json`, JSON.stringify({ tables, notes }, null, 2)));

let stateDir = '';
let n = 0;

// One process writes the whole run, 1 MiB O_DIRECT writes from a page-aligned buffer, each
// due at i/rate seconds from the start (a dd per MiB cost more than the pace under TCG).
const PACED = `
import mmap, os, sys, time
path, rate, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o644)
buf = mmap.mmap(-1, 1 << 20)
buf.write(bytes(range(256)) * 4096)
t0 = time.monotonic()
for i in range(total):
    if rate != 'max':
        wait = t0 + i / float(rate) - time.monotonic()
        if wait > 0:
            time.sleep(wait)
    os.pwrite(fd, buf, i << 20)
os.close(fd)
`;

function writer(rateMiB: number | 'max', totalMiB: number): { done: Promise<number> } {
  const child = spawn('python3', ['-c', PACED, `${MNT}/w`, String(rateMiB), String(totalMiB)], { stdio: 'inherit' });
  return { done: new Promise((resolve) => child.on('exit', (code) => resolve(code ?? -1))) };
}

async function fresh(): Promise<string> {
  const name = `b${n++}`;
  sh(`umount ${MNT} 2>/dev/null; true`);
  ext4('/dev/mapper/wb', MNT);
  const r = await createSnapshot({ stateDir, log: () => {}, name, origin: '/dev/mapper/wb', store: `${MNT}/.snapstore/${name}.store`, size: parseSize('16M'), chunk: chunkSize(bytes(4096)), mode: 'checkpoint' });
  expect(r.manifest?.state).toBe('active');
  return name;
}

async function finish(name: string): Promise<'valid' | 'INVALID'> {
  const [s] = snapshotStatus({ stateDir, name });
  const h = s!.health === 'valid' ? 'valid' : 'INVALID';
  await commitSnapshot({ stateDir, name, log: () => {} });
  return h;
}

/** Our watcher over one run of the writer; its events. */
async function ours(rate: number | 'max', totalMiB: number) {
  const name = await fresh();
  const events: WatchEvent[] = [];
  const stop = new AbortController();
  const watching = watchSnapshots({ stateDir, names: [name], intervalMs: 50, onEvent: (e) => events.push(e), signal: stop.signal, log: () => {} });
  for (let t = 0; t < 200 && !events.some((e) => e.event === 'watching'); t++) await new Promise((r) => setTimeout(r, 50));
  const t0 = performance.now();
  const code = await writer(rate, totalMiB).done;
  const seconds = (performance.now() - t0) / 1000;
  stop.abort();
  await watching.catch(() => undefined);
  const health = await finish(name);
  const grown = events.filter((e) => e.event === 'extended');
  const starts = events.filter((e) => e.event === 'extending');
  const reactions = grown.map((g, i) => Date.parse(g.at) - Date.parse(starts[i]!.at));
  return { health, code, seconds, extensions: grown.length, reactions, finalMiB: Math.round((grown.at(-1)?.totalBytes ?? 16 * MiB) / MiB) };
}

/** LVM's way over one run: `dmsetup status` every 10 s, +20% at 70%, the growth by our extend. */
async function lvmWay(rate: number | 'max', totalMiB: number) {
  const name = await fresh();
  let stop = false;
  let stopped = 'the writer ended';
  const reactions: number[] = [];
  const loop = (async () => {
    while (!stop) {
      for (let t = 0; t < 100 && !stop; t++) await new Promise((r) => setTimeout(r, 100));
      if (stop) break;
      const t0 = performance.now();
      let u;
      try {
        u = snapUsage(`snapstore-${name}-snap`);
      } catch (e) {
        stopped = `status unreadable: ${(e as Error).message.split('\n')[0]}`;
        break; // Invalid: nothing more to do
      }
      if (u.allocated / u.total < 0.7) continue;
      const by = Math.ceil((u.total * 512 * 0.2) / 4096) * 4096;
      try {
        await extendSnapshot({ stateDir, name, by: bytes(by), keepFree: { bytes: bytes(4 * MiB) }, log: () => {} });
        reactions.push(performance.now() - t0);
      } catch (e) {
        stopped = `extend failed: ${(e as Error).message.split('\n')[0]}`;
        break;
      }
    }
  })();
  const t0 = performance.now();
  const code = await writer(rate, totalMiB).done;
  const seconds = (performance.now() - t0) / 1000;
  stop = true;
  await loop;
  return { health: await finish(name), code, seconds, extensions: reactions.length, reactions, stopped };
}

test('bench: the watcher against LVM\'s way', async () => {
  stateDir = metaDir('watch');
  passthrough('wb', 'wb');
  const rates: Array<number | 'max'> = [4, 8, 16, 32, 'max'];
  const rows: Record<string, unknown>[] = [];
  const allReactions: number[] = [];
  const lvmReactions: number[] = [];
  for (const rate of rates) {
    const a = await ours(rate, 128);
    const b = await lvmWay(rate, 128);
    allReactions.push(...a.reactions);
    lvmReactions.push(...b.reactions);
    rows.push({
      'writer MiB/s (asked)': rate,
      'measured MiB/s': round(128 / a.seconds, 1),
      'watcher: snapshot': a.health,
      'watcher: extensions': a.extensions,
      'watcher: store MiB at the end': a.finalMiB,
      "LVM's way: snapshot": b.health,
      "LVM's way: extensions": b.extensions,
    });
    notes.push(`LVM's way at ${rate} MiB/s: ${b.stopped}; measured ${round(128 / b.seconds, 1)} MiB/s`);
  }
  tables.push({ caption: '16 MiB store, 128 MiB of new data written through the origin at each rate', rows });
  const worst = (xs: number[]) => (xs.length ? Math.max(...xs) : Number.NaN);
  tables.push({
    caption: 'reaction: the poll that decides to grow -> the larger store live (ms); the wait for that poll comes on top: at most 50 ms (watcher) or 10 s (LVM\'s way)',
    rows: [
      { policy: 'watcher (50 ms polls, dm status ioctl)', extensions: allReactions.length, 'median ms': Math.round(median(allReactions)), 'worst ms': Math.round(worst(allReactions)), 'worst incl. poll wait ms': Math.round(worst(allReactions) + 50) },
      { policy: "LVM's way (10 s polls, dmsetup process)", extensions: lvmReactions.length, 'median ms': Math.round(median(lvmReactions)), 'worst ms': Math.round(worst(lvmReactions)), 'worst incl. poll wait ms': Math.round(worst(lvmReactions) + 10_000) },
    ],
  });
  notes.push(`dd alone, no snapshot: ${(() => {
    sh(`umount ${MNT} 2>/dev/null; true`);
    ext4('/dev/mapper/wb', MNT);
    const t0 = performance.now();
    execFileSync('dd', ['if=/dev/zero', `of=${MNT}/w`, 'bs=1M', 'count=128', 'oflag=direct', 'status=none']);
    return round(128 / ((performance.now() - t0) / 1000), 1);
  })()} MiB/s for the same 128 MiB (the fastest writer this VM makes)`);
  run('umount', [MNT]);
});
