// bench/create: `snapstore store create` of a 400 MiB store in about 100,000
// pieces (a fragmented ext4) against what allocating and mapping it costs with
// the system's own tools (`fallocate` + `filefrag`), in one run on the same
// filesystem: with the default proof (a sample spread over the device) and
// with --full-proof (every segment). Goal: the default within 3 times the baseline.
// Usage: node bench/create/bench.mjs [runs]   (root; after bash scripts/setup)
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const runs = Number(process.argv[2] ?? 3);
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', ...opts });
const { fragmentedExt4 } = await import(path.join(root, 'bench/lib/fragmented-fs.mjs'));

console.log('building a 1.2 GB ext4 whose free space is in 4 KiB pieces ...');
const { work, mnt, cleanup } = await fragmentedExt4('snapstore-bench-create-');
try {
  const dir = path.join(mnt, 'stores');
  fs.mkdirSync(dir, { mode: 0o700 });
  const file = path.join(dir, 'store');
  const state = path.join(work, 'state');
  sh('sync');

  const run = (cmd, args) => {
    const t = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return { ms: Number(process.hrtime.bigint() - t) / 1e6, out: r.stdout };
  };
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const cases = {
    'fallocate + filefrag (baseline)': () => {
      const t = run('fallocate', ['-l', '400M', file]).ms + run('filefrag', [file]).ms;
      fs.unlinkSync(file);
      return t;
    },
    'store create (sampled proof)': () => {
      const t = run(path.join(root, 'bin/snapstore'), ['store', 'create', 'b', '--store', file, '--size', '400M', '--state-dir', state]).ms;
      run(path.join(root, 'bin/snapstore'), ['store', 'delete', 'b', '--state-dir', state]);
      return t;
    },
    'store create --full-proof': () => {
      const t = run(path.join(root, 'bin/snapstore'), ['store', 'create', 'b', '--store', file, '--size', '400M', '--full-proof', '--state-dir', state]).ms;
      run(path.join(root, 'bin/snapstore'), ['store', 'delete', 'b', '--state-dir', state]);
      return t;
    },
  };
  sh('fallocate', ['-l', '400M', file]);
  const pieces = run('filefrag', [file]).out.match(/(\d+) extents? found/)?.[1];
  fs.unlinkSync(file);
  console.log(`the 400 MiB file takes ${pieces} extents; medians of ${runs} runs, interleaved`);
  const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let i = 0; i < runs; i++) for (const [k, fn] of Object.entries(cases)) times[k].push(fn());
  const base = median(times['fallocate + filefrag (baseline)']);
  for (const [k, ts] of Object.entries(times)) {
    const m = median(ts);
    console.log(`  ${k.padEnd(34)} ${(m / 1000).toFixed(2).padStart(7)} s   ratio ${(m / base).toFixed(2)}`);
  }
  const ratio = median(times['store create (sampled proof)']) / base;
  console.log(`\ngoal: store create within 3 times fallocate + filefrag: ${ratio <= 3 ? 'met' : 'NOT met'} (${ratio.toFixed(2)})`);
} finally {
  cleanup();
}
