// Host side of the lifecycle benchmark: what a checkpoint costs, measured in one boot of the
// kernel test bed (test/vm), each figure against a baseline measured in the same run:
//   1. activate.guest.ts  activate of a ~10,000-segment checkpoint vs a dmsetup script
//   2. writes.guest.ts    fio on the mounted origin with and without a checkpoint, chunk 4K/16K/64K
//   3. usage.guest.ts     store bytes used per byte an update wrote (overwrite, add, replace)
//   4. rollback.guest.ts  rollback --wait (the kernel's merge) vs rollback --offline (ours)
//
//   npx vitest run --config bench/lifecycle/vitest.config.ts
//   LIFECYCLE_PARTS=activate,usage npx vitest run --config bench/lifecycle/vitest.config.ts   # some parts
//
// fio runs in the guest from the host root (the guest shares it read-only): it is installed
// here with apt-get when missing, as scripts/setup installs what it needs.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { expect, test } from 'vitest';
import { ensureVm, GUEST_RESULTS, runInVm, type VmDisk } from '../../test/vm/vm.js';

const PARTS = ['activate', 'writes', 'usage', 'rollback'] as const;
type PartName = (typeof PARTS)[number];
const DISKS: Record<PartName, VmDisk[]> = {
  activate: [{ name: 'act', sizeMiB: 256 }],
  writes: [{ name: 'wr', sizeMiB: 512 }],
  usage: [{ name: 'use', sizeMiB: 512 }],
  rollback: [
    { name: 'rk', sizeMiB: 320 },
    { name: 'ro', sizeMiB: 320 },
  ],
};

interface Part {
  title: string;
  tables: { caption: string; rows: Record<string, unknown>[] }[];
  notes: string[];
}

function ensureFio(): void {
  if (spawnSync('fio', ['--version']).status === 0) return;
  const r = spawnSync('apt-get', ['install', '-y', '-qq', 'fio'], { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0 || spawnSync('fio', ['--version']).status !== 0) {
    throw new Error(`fio is needed in the VM (it runs from the host root) and \`apt-get install fio\` failed:\n${(r.stderr ?? '').trim().split('\n').slice(-5).join('\n')}`);
  }
}

test('what a checkpoint costs, in the VM: activate, writes, store usage, rollback', async () => {
  const avail = ensureVm();
  if (!avail.ok) throw new Error(`kernel test bed unavailable: ${avail.reason}`);
  const parts = (process.env.LIFECYCLE_PARTS?.split(',').filter(Boolean) ?? [...PARTS]) as PartName[];
  for (const p of parts) if (!PARTS.includes(p)) throw new Error(`LIFECYCLE_PARTS: unknown part ${p} (parts: ${PARTS.join(', ')})`);
  if (parts.includes('writes')) ensureFio();
  const files = parts.map((p) => `bench/lifecycle/${p}.guest.ts`);
  const vitest = ['node', 'node_modules/vitest/vitest.mjs', 'run', '--configLoader', 'runner', '--config', 'bench/lifecycle/vitest.guest.config.ts', ...files];
  // Output through a file (the console is a TTY: vitest would redraw it), then to the console.
  const script = `"$@" >"$SNAPSTORE_VM_RESULTS/guest-vitest.log" 2>&1; rc=$?; cat "$SNAPSTORE_VM_RESULTS/guest-vitest.log"; exit $rc`;
  const passEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('LIFECYCLE_') && k !== 'LIFECYCLE_PARTS')) as Record<string, string>;
  const run = await runInVm({
    command: ['sh', '-c', script, 'guest-vitest', ...vitest],
    disks: [{ name: 'meta', sizeMiB: 64 }, ...parts.flatMap((p) => DISKS[p])],
    env: { ...passEnv, SNAPSTORE_GUEST_ORDER: files.join(':'), SNAPSTORE_GUEST_REPORT: `${GUEST_RESULTS}/guest-report.json` },
    timeoutSec: 2_100,
  });
  try {
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    console.log(`guest kernel ${run.kernelRelease}: boot ${run.bootSec.toFixed(1)} s, guest command ${run.commandSec.toFixed(1)} s, wall ${run.wallSec.toFixed(1)} s; host load average now ${load} (2 cores shared)`);
    for (const p of parts) {
      const f = `${run.resultsDir}/lifecycle-${p}.json`;
      if (!existsSync(f)) {
        console.log(`\n${p}: no figures (the part failed before writing them)`);
        continue;
      }
      const part = JSON.parse(readFileSync(f, 'utf8')) as Part;
      console.log(`\n${part.title}`);
      for (const t of part.tables) {
        console.log(`  ${t.caption}`);
        console.table(t.rows);
      }
      for (const n of part.notes) console.log(`  note: ${n}`);
    }
    expect(run.exitCode, run.output.split('\n').slice(-80).join('\n')).toBe(0);
  } finally {
    if (!process.env.SNAPSTORE_VM_KEEP) rmSync(run.resultsDir, { recursive: true, force: true });
  }
}, 2_400_000);
