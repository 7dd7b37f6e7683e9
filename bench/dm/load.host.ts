// Host side of the dm load benchmark: one VM run of bench/dm/load.guest.ts, then the figures.
//   npx vitest run --config bench/dm/vitest.config.ts
import { readFileSync, rmSync } from 'node:fs';
import { expect, test } from 'vitest';
import { ensureVm, runInVm } from '../../test/vm/vm.js';

test('dm create+load+resume: ours vs dmsetup, in one VM run', async () => {
  const avail = ensureVm();
  if (!avail.ok) throw new Error(`kernel test bed unavailable: ${avail.reason}`);
  const run = await runInVm({
    command: ['node', 'node_modules/vitest/vitest.mjs', 'run', '--configLoader', 'runner', '--config', 'bench/dm/vitest.guest.config.ts', 'bench/dm/load.guest.ts'],
    disks: [{ name: 'bench', sizeMiB: 512 }],
    timeoutSec: 900,
  });
  try {
    expect(run.exitCode, run.output.split('\n').slice(-40).join('\n')).toBe(0);
    const rows = JSON.parse(readFileSync(`${run.resultsDir}/dm-bench.json`, 'utf8')) as Record<string, number>[];
    console.log(`guest kernel ${run.kernelRelease}`);
    console.table(rows);
  } finally {
    rmSync(run.resultsDir, { recursive: true, force: true });
  }
}, 1_000_000);
