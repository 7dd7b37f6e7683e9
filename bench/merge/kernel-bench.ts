// Host side of the merge benchmark in the VM: one boot runs bench/merge/kernel.guest.ts (the
// kernel's snapshot-merge against our offline merge of an identical copy), then prints the
// figures the guest wrote.
//   npx vitest run --config bench/merge/kernel-vitest.config.ts
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { expect, test } from 'vitest';
import { ensureVm, runInVm } from '../../test/vm/vm.js';

test('offline merge vs the kernel snapshot-merge: 16,384 scattered 4 KiB exceptions over 256 MiB', async () => {
  const avail = ensureVm();
  if (!avail.ok) throw new Error(`kernel test bed unavailable: ${avail.reason}`);
  // The C loop, built where the guest can see it (the host root, read-only there; not /tmp,
  // which is the guest's own tmpfs).
  const build = mkdtempSync('/var/tmp/snapstore-merge-loop-');
  execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-o', `${build}/merge-loop`, 'bench/merge/merge-loop.c']);
  const run = await runInVm({
    command: [
      'node', 'node_modules/vitest/vitest.mjs', 'run', '--configLoader', 'runner',
      '--config', 'bench/merge/kernel-vitest.guest.config.ts', 'bench/merge/kernel.guest.ts',
    ],
    disks: [
      { name: 'k-origin', sizeMiB: 256 },
      { name: 'k-cow', sizeMiB: 80 },
      { name: 'o-origin', sizeMiB: 256 },
      { name: 'o-cow', sizeMiB: 80 },
      { name: 'c-origin', sizeMiB: 256 },
      { name: 'c-cow', sizeMiB: 80 },
      { name: 't-origin', sizeMiB: 256 },
      { name: 't-cow', sizeMiB: 80 },
      { name: 'scratch', sizeMiB: 64 },
    ],
    env: { MERGE_LOOP: `${build}/merge-loop` },
    timeoutSec: 900,
  });
  try {
    expect(run.exitCode, run.output.split('\n').slice(-60).join('\n')).toBe(0);
    const rows = JSON.parse(readFileSync(`${run.resultsDir}/merge-kernel-bench.json`, 'utf8')) as Record<string, unknown>[];
    console.log(`guest kernel ${run.kernelRelease}`);
    console.table(rows);
  } finally {
    rmSync(run.resultsDir, { recursive: true, force: true });
    rmSync(build, { recursive: true, force: true });
  }
}, 1_000_000);
