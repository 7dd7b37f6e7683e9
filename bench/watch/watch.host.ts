// Host side of the watcher benchmark (guest side: watch.guest.ts), one boot of the kernel
// test bed: how fast the watcher reacts, and the fastest writer a 16 MiB store keeps up
// with, beside LVM's way (dmeventd's defaults when autoextend is on: `dmsetup status` every
// 10 s, +20% at 70%) measured in the same run.
//   npx vitest run --config bench/watch/vitest.config.ts
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { expect, test } from 'vitest';
import { ensureVm, GUEST_RESULTS, runInVm } from '../../test/vm/vm.js';

test('the watcher against LVM\'s way, in the VM', async () => {
  const avail = ensureVm();
  if (!avail.ok) throw new Error(`kernel test bed unavailable: ${avail.reason}`);
  const files = ['bench/watch/watch.guest.ts'];
  const vitest = ['node', 'node_modules/vitest/vitest.mjs', 'run', '--configLoader', 'runner', '--config', 'bench/watch/vitest.guest.config.ts', ...files];
  const script = `"$@" >"$SNAPSTORE_VM_RESULTS/guest-vitest.log" 2>&1; rc=$?; cat "$SNAPSTORE_VM_RESULTS/guest-vitest.log"; exit $rc`;
  const run = await runInVm({
    command: ['sh', '-c', script, 'guest-vitest', ...vitest],
    disks: [{ name: 'meta', sizeMiB: 64 }, { name: 'wb', sizeMiB: 1024 }],
    env: { SNAPSTORE_GUEST_ORDER: files.join(':'), SNAPSTORE_GUEST_REPORT: `${GUEST_RESULTS}/guest-report.json` },
    timeoutSec: 1_500,
  });
  try {
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    console.log(`guest kernel ${run.kernelRelease}: boot ${run.bootSec.toFixed(1)} s, guest command ${run.commandSec.toFixed(1)} s; host load average now ${load}`);
    const f = `${run.resultsDir}/watch.json`;
    if (existsSync(f)) {
      const part = JSON.parse(readFileSync(f, 'utf8')) as { tables: { caption: string; rows: Record<string, unknown>[] }[]; notes: string[] };
      for (const t of part.tables) {
        console.log(`  ${t.caption}`);
        console.table(t.rows);
      }
      for (const n of part.notes) console.log(`  note: ${n}`);
    }
    expect(run.exitCode, run.output.split('\n').slice(-60).join('\n')).toBe(0);
  } finally {
    if (!process.env.SNAPSTORE_VM_KEEP) rmSync(run.resultsDir, { recursive: true, force: true });
  }
}, 1_800_000);
