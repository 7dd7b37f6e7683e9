// bench/startup: what every `snapstore` call pays before it does anything,
// against the runtime's own start (`node -e 0`), all in one run. Prints
// medians, the difference to `node -e 0` and the ratio.
// Usage: node bench/startup/bench.mjs [runs]   (root; run `bash scripts/setup` first)
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const runs = Number(process.argv[2] ?? 21);
const GOAL_MS = 50; // `store list` at most this much beyond `node -e 0`
if (!Number.isInteger(runs) || runs < 1) throw new Error(`runs must be a positive whole number, not ${process.argv[2]}`);

// An existing, empty state directory as store list trusts one: root-owned, 0700.
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-bench-startup-'));
const stateDir = path.join(work, 'state');
fs.mkdirSync(stateDir, { mode: 0o700 });
fs.chmodSync(stateDir, 0o700);
try {
  const bin = path.join(root, 'bin/snapstore');
  const time = (cmd, args) => {
    const t = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
    return ms;
  };
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const cases = [
    ['node -e 0', process.execPath, ['-e', '0']],
    ['snapstore --version', bin, ['--version']],
    ['snapstore store list', bin, ['store', 'list', '--state-dir', stateDir]],
    ['snapstore store list --json', bin, ['store', 'list', '--json', '--state-dir', stateDir]],
  ];
  // Interleaved rounds (one run of each case per round, after one warm-up
  // round), so that a slow moment of the machine hits every case alike.
  for (const [, cmd, args] of cases) time(cmd, args);
  const samples = cases.map(() => []);
  for (let i = 0; i < runs; i++) cases.forEach(([, cmd, args], j) => samples[j].push(time(cmd, args)));
  const medians = samples.map(median);
  const base = medians[0];

  const f = (ms) => `${ms.toFixed(1).padStart(6)} ms`;
  const entry = fs.existsSync(path.join(root, 'dist/cli-bundle/main.js')) ? 'dist/cli-bundle (esbuild)' : 'dist/cli (tsc)';
  console.log(`node ${process.version}, ${os.cpus().length} CPUs; the CLI from ${entry}; median of ${runs} runs each`);
  cases.forEach(([name], j) => {
    const extra = j === 0 ? '' : `   beyond node -e 0: ${f(medians[j] - base)}   ratio ${(medians[j] / base).toFixed(2)}`;
    console.log(`  ${name.padEnd(28)} ${f(medians[j])}${extra}`);
  });
  const worst = Math.max(medians[2], medians[3]) - base;
  console.log(`\ngoal: store list within ${GOAL_MS} ms of node -e 0: ${worst <= GOAL_MS ? 'met' : 'NOT met'} (${worst.toFixed(1)} ms)`);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
