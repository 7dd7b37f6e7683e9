// Part 2 of bench/lifecycle (guest side; host: lifecycle.host.ts): write throughput on the
// mounted origin during a checkpoint against the same filesystem without one, for chunk sizes
// 4K, 16K and 64K, with fio (O_DIRECT, one I/O at a time, into a file written before):
// sequential 1 MiB writes over 32 MiB and random 4 KiB writes (8 MiB over a 64 MiB file, the
// same offsets every run). Each checkpointed run gets a fresh checkpoint (nothing copied yet:
// every chunk is copied at its first write) and is bracketed by two baseline runs on the same
// file without one, just before and just after; its ratio is against their mean, so load that
// comes and goes on the shared host shows as a gap between the two. The sequential baseline
// loops 8 times over its 32 MiB (one pass takes some 50 ms here: too short to time alone).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { afterAll, expect, test } from 'vitest';
import { requireGuest, run } from '../../test/vm/guest.js';
import { commitSnapshot } from '../../src/snapshot/commit.js';
import { createSnapshot } from '../../src/snapshot/create.js';
import { snapshotStatus } from '../../src/snapshot/status.js';
import { bytes, chunkSize, parseSize } from '../../src/units/units.js';
import { ext4, median, metaDir, MiB, passthrough, ROOT, round, savePart, sh, type Part } from './guest-common.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';

const MNT = `${ROOT}/wr`;
const FILE = `${MNT}/data.bin`;
const CHUNKS = ['4K', '16K', '64K'] as const;
const FIO = process.env.LIFECYCLE_FIO || 'fio';

const part: Part = { title: '2. write throughput on the mounted origin: during a checkpoint vs without one (fio, O_DIRECT, iodepth 1)', tables: [], notes: [] };
afterAll(() => savePart('writes', part));

type Pattern = 'seq' | 'rand';
const JOBS: Record<Pattern, { args: string[]; bytes: number; label: string }> = {
  seq: { args: ['--rw=write', '--bs=1M', '--size=32M'], bytes: 32 * MiB, label: 'sequential 1 MiB writes, 32 MiB' },
  rand: { args: ['--rw=randwrite', '--bs=4k', '--size=64M', '--io_size=8M', '--randrepeat=1', '--randseed=4242'], bytes: 8 * MiB, label: 'random 4 KiB writes, 8 MiB over 64 MiB' },
};

interface FioRun {
  mibps: number;
  iops: number;
  latMeanMs: number;
  latP99Ms: number;
}

function fio(p: Pattern, loops = 1): FioRun {
  const out = execFileSync(
    FIO,
    ['--name=bench', `--filename=${FILE}`, '--direct=1', '--ioengine=psync', '--iodepth=1', '--fallocate=none', '--allow_file_create=0', '--output-format=json', `--loops=${loops}`, ...JOBS[p].args],
    { encoding: 'utf8', maxBuffer: 16 << 20 },
  );
  const j = JSON.parse(out.slice(out.indexOf('{'))) as { jobs: { error: number; write: { bw_bytes: number; iops: number; io_bytes: number; clat_ns: { mean: number; percentile?: Record<string, number> } } }[] };
  const w = j.jobs[0]!.write;
  expect(j.jobs[0]!.error).toBe(0);
  expect(w.io_bytes).toBe(JOBS[p].bytes * loops);
  return { mibps: w.bw_bytes / MiB, iops: w.iops, latMeanMs: w.clat_ns.mean / 1e6, latP99Ms: (w.clat_ns.percentile?.['99.000000'] ?? Number.NaN) / 1e6 };
}

test('fio on the mounted origin, with and without a checkpoint, chunk 4K/16K/64K', async () => {
  const state = `${metaDir('wr')}/state`;
  const opts = { stateDir: state, log: () => {} };
  const origin = passthrough('data-wr', 'wr');
  ext4(origin, MNT);
  run(FIO, ['--name=prep', `--filename=${FILE}`, '--rw=write', '--bs=1M', '--size=64M', '--direct=1', '--ioengine=psync', '--output-format=terse']);
  sh('sync');
  fio('rand'); // warm-up: fio itself, the file's extent tree

  const rows: Record<string, unknown>[] = [];
  const summary: Record<string, unknown>[] = [];
  const base: Record<Pattern, number[]> = { seq: [], rand: [] };
  const LOOPS: Record<Pattern, number> = { seq: 8, rand: 1 };
  const row = (c: string, p: Pattern, runName: string, f: FioRun) => ({ chunk: c, pattern: JOBS[p].label, run: runName, 'MiB/s': round(f.mibps), IOPS: Math.round(f.iops), 'lat mean ms': round(f.latMeanMs), 'lat p99 ms': round(f.latP99Ms) });
  for (const c of CHUNKS) {
    for (const p of ['seq', 'rand'] as const) {
      const before = fio(p, LOOPS[p]);
      const name = `wr-${c.toLowerCase()}-${p}`;
      const r = await createSnapshot({ ...opts, name, origin, store: `${MNT}/.snapstore/${name}.store`, size: parseSize('112M'), chunk: chunkSize(parseSize(c)), mode: 'checkpoint' });
      expect(r.manifest?.state).toBe('active');
      const used0 = snapshotStatus({ stateDir: state, name })[0]!.usage!.used;
      const withCp = fio(p);
      sh('sync');
      const s = snapshotStatus({ stateDir: state, name })[0]!;
      expect(s.health).toBe('valid');
      const used = Number(s.usage!.used) - Number(used0);
      expect((await commitSnapshot({ ...opts, name })).outcome).toBe('committed');
      const after = fio(p, LOOPS[p]);
      const without = (before.mibps + after.mibps) / 2;
      base[p].push(before.mibps, after.mibps);
      rows.push(row(c, p, 'no checkpoint, before', before), row(c, p, 'checkpoint', withCp), row(c, p, 'no checkpoint, after', after));
      summary.push({
        chunk: c,
        pattern: p,
        'none before MiB/s': round(before.mibps),
        'checkpoint MiB/s': round(withCp.mibps),
        'none after MiB/s': round(after.mibps),
        'checkpoint / none (mean)': round(withCp.mibps / without, 3),
        'checkpoint lat mean ms': round(withCp.latMeanMs),
        'store used MiB': round(used / MiB),
        'store bytes per byte written': round(used / JOBS[p].bytes),
      });
      console.log(summary.at(-1));
    }
  }
  part.tables.push({ caption: 'throughput: each checkpointed run (a fresh checkpoint, one pass) between two runs without one on the same file', rows: summary });
  part.tables.push({ caption: 'every fio run (clat: completion latency per I/O)', rows });
  const spread = (xs: number[]) => `${round(Math.min(...xs))}..${round(Math.max(...xs))} MiB/s (median ${round(median(xs))})`;
  part.notes.push(`baseline spread over its 6 runs: sequential ${spread(base.seq)}, random ${spread(base.rand)}: the run-to-run noise of this machine`);
  part.notes.push('ext4 on a dm passthrough over a 512 MiB virtio disk (cache=unsafe on the host); a 64 MiB file written beforehand; each checkpoint is a fresh 112 MiB store in the same filesystem, committed after its run');
  run('umount', [MNT]);
  run('dmsetup', ['remove', 'data-wr']);
  fs.rmSync(MNT, { recursive: true, force: true });
}, 1_200_000);
