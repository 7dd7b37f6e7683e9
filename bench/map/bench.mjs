// bench/map: `snapstore map` on a file of 100,000+ extents, against the
// runtime's own start (`node -e 0`), `filefrag -v` and a plain C FIEMAP loop,
// all in one run on the same file. Prints medians and ratios.
// Usage: node bench/map/bench.mjs [runs]   (root; builds what it needs)
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const runs = Number(process.argv[2] ?? 15);
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', ...opts });

const { mapFile } = await import(path.join(root, 'dist/fiemap/map-file.js'));
const { linearTableText } = await import(path.join(root, 'dist/dm/table-text.js'));
const { bytes, chunkSize } = await import(path.join(root, 'dist/units/units.js'));
const { fragmentedExt4 } = await import(path.join(root, 'bench/lib/fragmented-fs.mjs'));

console.log('building a 1.2 GB ext4 with a 500 MB file in 4 KiB pieces ...');
const { work, mnt, cleanup } = await fragmentedExt4('snapstore-bench-map-');
try {
  const file = path.join(mnt, 'store');
  sh('fallocate', ['-l', '500M', file]);
  sh('sync');

  const cbin = path.join(work, 'fiemap-loop');
  sh('gcc', ['-O2', '-o', cbin, path.join(root, 'bench/map/fiemap-loop.c')]);

  const time = (cmd, args) => {
    const t = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'ignore'] });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const measure = (fn) => {
    fn();
    return median(Array.from({ length: runs }, fn));
  };

  const extents = Number(sh('filefrag', [file]).match(/(\d+) extents? found/)[1]);
  const chunk = chunkSize(bytes(4096));
  const inProcess = measure(() => {
    const t = process.hrtime.bigint();
    const m = mapFile(file, chunk);
    linearTableText({ count: m.columns.count, start: m.columns.storeOffset, length: m.columns.length, offset: m.columns.physical }, m.device);
    return Number(process.hrtime.bigint() - t) / 1e6;
  });
  const bin = path.join(root, 'bin/snapstore');
  const nodeStart = measure(() => time(process.execPath, ['-e', '0']));
  const ours = measure(() => time(bin, ['map', file]));
  const filefrag = measure(() => time('filefrag', ['-v', file]));
  const cloop = measure(() => time(cbin, [file]));
  const version = measure(() => time(bin, ['--version']));
  const segs = mapFile(file, chunk).columns.count;

  const f = (ms) => `${ms.toFixed(1)} ms`;
  console.log(`\nfile: ${extents} extents (filefrag), ${segs} segments after coalescing; median of ${runs} runs`);
  console.log(`  node -e 0                        ${f(nodeStart)}`);
  console.log(`  snapstore map (whole process)    ${f(ours)}   beyond node -e 0: ${f(ours - nodeStart)}`);
  console.log(`  filefrag -v                      ${f(filefrag)}`);
  console.log(`  C FIEMAP loop (bench/map)        ${f(cloop)}`);
  console.log(`  map + table inside the process   ${f(inProcess)}`);
  console.log(`  snapstore --version              ${f(version)}`);
  console.log('\ngoals:');
  console.log(`  (snapstore map - node -e 0) / filefrag -v  = ${((ours - nodeStart) / filefrag).toFixed(2)}  (goal < 1)`);
  console.log(`  in-process map / C loop                    = ${(inProcess / cloop).toFixed(2)}  (goal <= 2)`);
  console.log(`  snapstore --version / node -e 0            = ${(version / nodeStart).toFixed(2)}  (goal <= 1.3)`);
} finally {
  cleanup();
}
