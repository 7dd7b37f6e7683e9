/**
 * Offline merge benchmark (issue 11): a 256 MiB origin and a store of 16,384
 * scattered 4 KiB exceptions (64 MiB). In one run: our merge in-process and
 * as a whole process, the C loop (pread/pwrite + one fsync), and dd writing
 * 64 MiB sequentially with conv=fsync for scale. Each contestant gets fresh
 * copies of the same inputs, written back (sync) before its clock starts.
 * Run with bench/merge/run.sh.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { bytes, chunkSize, chunks } from '../../src/units/units.js';
import { FileIo } from '../../src/blockio/file-io.js';
import { CowWriter } from '../../src/cow/writer.js';
import { mergeOffline } from '../../src/cow/merge.js';

const [workDir = '', cLoop = '', mergeProcess = ''] = process.argv.slice(2);
const CHUNK = chunkSize(bytes(4096));
const ORIGIN_CHUNKS = 65536;
const EXCEPTIONS = 16384;
const STORE_CHUNKS = 2 + EXCEPTIONS + Math.ceil(EXCEPTIONS / 256) + 1;

const originPath = path.join(workDir, 'origin.img');
const storePath = path.join(workDir, 'store.img');
const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

function build(): void {
  const origin = Buffer.alloc(ORIGIN_CHUNKS * 4096);
  randomFillSync(origin);
  fs.writeFileSync(originPath, origin);
  fs.writeFileSync(storePath, Buffer.alloc(0));
  fs.truncateSync(storePath, STORE_CHUNKS * 4096);
  const store = FileIo.open(storePath, { writable: true });
  const w = CowWriter.create(store, CHUNK);
  // Scattered: a random permutation's first 16,384 chunks, in random order.
  const perm = Array.from({ length: ORIGIN_CHUNKS }, (_, i) => i);
  for (let i = perm.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  const data = Buffer.alloc(4096);
  for (const old of perm.slice(0, EXCEPTIONS)) {
    randomFillSync(data);
    w.append(chunks(old), data);
  }
  w.commit();
  store.close();
}

function fresh(tag: string): { o: string; s: string } {
  const o = path.join(workDir, `origin-${tag}.img`);
  const s = path.join(workDir, `store-${tag}.img`);
  fs.copyFileSync(originPath, o);
  fs.copyFileSync(storePath, s);
  execFileSync('sync');
  return { o, s };
}

function timed(fn: () => void): number {
  const t = performance.now();
  fn();
  return (performance.now() - t) / 1000;
}

build();
const MiB = (EXCEPTIONS * 4096) / 2 ** 20;
// The machine is shared: run every contestant ROUNDS times, interleaved, and
// report the median and the best.
const ROUNDS = Number(process.env.ROUNDS ?? 5);

const contestants: { name: string; run: (o: string, s: string) => void }[] = [
  {
    name: 'snapstore merge, in-process',
    run: (o, s) => {
      const origin = FileIo.open(o, { writable: true });
      const store = FileIo.open(s, { writable: true });
      mergeOffline(origin, store);
      origin.close();
      store.close();
    },
  },
  { name: 'C loop (pread/pwrite, one fsync)', run: (o, s) => execFileSync(cLoop, [o, s]) },
  { name: 'snapstore merge, whole process', run: (o, s) => execFileSync(process.execPath, [mergeProcess, o, s]) },
  {
    name: `dd ${MiB} MiB sequential, conv=fsync`,
    run: () => execFileSync('dd', ['if=/dev/zero', `of=${path.join(workDir, 'dd.img')}`, 'bs=1M', `count=${MiB}`, 'conv=fsync'], { stdio: 'ignore' }),
  },
];
const times = new Map<string, number[]>(contestants.map((c) => [c.name, []]));
const origins = new Set<string>();
for (let round = 0; round < ROUNDS; round++) {
  for (const c of contestants) {
    const { o, s } = fresh('run');
    times.get(c.name)!.push(timed(() => c.run(o, s)));
    if (!c.name.startsWith('dd')) origins.add(sha(o));
  }
}
if (origins.size !== 1) throw new Error('the merges did not produce the same origin');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const cMedian = median(times.get(contestants[1]!.name)!);
const cBest = Math.min(...times.get(contestants[1]!.name)!);
console.log(`${EXCEPTIONS} scattered 4 KiB exceptions (${MiB} MiB) into a 256 MiB origin, ${ROUNDS} rounds; all merges byte-identical`);
console.log(`${''.padEnd(40)} ${'median s'.padStart(9)} ${'MB/s'.padStart(7)} ${'best s'.padStart(8)}   rate vs C loop (median, best)`);
for (const c of contestants) {
  const t = times.get(c.name)!;
  const m = median(t);
  const b = Math.min(...t);
  console.log(
    `${c.name.padEnd(40)} ${m.toFixed(3).padStart(9)} ${(MiB / m).toFixed(1).padStart(7)} ${b.toFixed(3).padStart(8)}   ${(cMedian / m).toFixed(2)}, ${(cBest / b).toFixed(2)}`,
  );
}
