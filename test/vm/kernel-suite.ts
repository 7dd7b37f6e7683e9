// Host side of kernel tests: one host test file (test/kernel/<suite>.test.ts) boots the VM a
// few times; in each boot ONE vitest process runs a batch of guest files
// (test/kernel/**/*.guest.ts, config test/vm/vitest.guest.config.ts), and every guest test
// result becomes a host test of the same name, so the host counts include every guest check.
//
//   // test/kernel/dm.test.ts
//   import { kernelSuite } from '../vm/kernel-suite.js';
//   await kernelSuite('dm', [
//     { files: ['test/kernel/dm-client.guest.ts', 'test/kernel/dm-tables.guest.ts'],
//       disks: [{ name: 'data', sizeMiB: 256 }] },
//   ]);
//
// When the bed cannot run (no qemu, setup failed): with env CI set, one failing test gives the
// reason; without it, one skipped test does.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { relative } from 'node:path';
import { describe, test } from 'vitest';
import { ensureVm, GUEST_RESULTS, REPO_ROOT, runInVm, type VmDisk, type VmRunResult } from './vm.js';

export interface GuestBoot {
  /** Guest files (repo-relative), run in this order by one vitest process. */
  files: string[];
  /** Attached as /dev/vda, /dev/vdb, ... in this order; shared by every file of the boot. */
  disks?: VmDisk[];
  /** Whole boot. Default: 120 s plus 120 s per file. */
  timeoutSec?: number;
  env?: Record<string, string>;
}

interface JsonAssertion {
  ancestorTitles: string[];
  title: string;
  status: string;
  failureMessages?: string[];
  duration?: number;
}
interface JsonFile {
  name: string;
  status: string;
  message?: string;
  assertionResults: JsonAssertion[];
}
interface JsonReport {
  testResults: JsonFile[];
}

const GUEST_LOG = 'guest-vitest.log';
const REPORT = 'guest-report.json';

function tail(s: string, lines = 40): string {
  return s.trimEnd().split('\n').slice(-lines).join('\n');
}

function failing(name: string, message: string): void {
  test(name, () => {
    throw new Error(message);
  });
}

/** The guest command for a batch of files: vitest, its output kept in the results share. */
function guestCommand(files: string[]): string[] {
  const vitest = ['node', 'node_modules/vitest/vitest.mjs', 'run', '--configLoader', 'runner', '--config', 'test/vm/vitest.guest.config.ts', ...files];
  // Through a file, not the console: the console is a TTY, and vitest would redraw it.
  const script = `"$@" >"$SNAPSTORE_VM_RESULTS/${GUEST_LOG}" 2>&1; rc=$?; cat "$SNAPSTORE_VM_RESULTS/${GUEST_LOG}"; exit $rc`;
  return ['sh', '-c', script, 'guest-vitest', ...vitest];
}

/** Where a boot's time went: the slowest guest tests (what to look at when the suite grows slow). */
function slowest(report: JsonReport | undefined, n = 5): string {
  const all = (report?.testResults ?? []).flatMap((f) => f.assertionResults.map((a) => ({ s: (a.duration ?? 0) / 1000, name: `${relative(REPO_ROOT, f.name)} > ${a.title}` })));
  if (!all.length) return '';
  return `; slowest:${all
    .sort((a, b) => b.s - a.s)
    .slice(0, n)
    .map((t) => `\n  ${t.s.toFixed(1)} s ${t.name.length > 140 ? `${t.name.slice(0, 140)}...` : t.name}`)
    .join('')}`;
}

function registerBoot(prefix: string, files: string[], run: VmRunResult): void {
  const log = existsSync(`${run.resultsDir}/${GUEST_LOG}`) ? readFileSync(`${run.resultsDir}/${GUEST_LOG}`, 'utf8') : run.output;
  let report: JsonReport | undefined;
  let error: Error | undefined;
  try {
    report = JSON.parse(readFileSync(`${run.resultsDir}/${REPORT}`, 'utf8')) as JsonReport;
  } catch (e) {
    error = e as Error;
  }
  test(`${prefix}guest kernel ${run.kernelRelease}`, () => {
    console.log(
      `guest kernel ${run.kernelRelease}: boot ${run.bootSec.toFixed(1)} s, guest command ${run.commandSec.toFixed(1)} s, wall ${run.wallSec.toFixed(1)} s${slowest(report)}`,
    );
  });
  if (!report) {
    failing(`${prefix}guest vitest report`, `no report from the guest (exit ${run.exitCode}: ${error?.message}); guest output:\n${tail(log)}`);
    return;
  }
  let failed = 0;
  const seen = new Set<string>();
  for (const file of report.testResults) {
    const rel = relative(REPO_ROOT, file.name);
    seen.add(rel);
    if (file.status === 'failed' && file.assertionResults.every((a) => a.status !== 'failed')) {
      failed++;
      failing(`${prefix}${rel}`, file.message || `guest file failed; guest output:\n${tail(log)}`);
    }
    for (const a of file.assertionResults) {
      const name = `${prefix}${[rel, ...a.ancestorTitles, a.title].join(' > ')}`;
      if (a.status === 'passed') test(name, () => {});
      else if (a.status === 'failed') {
        failed++;
        failing(name, (a.failureMessages ?? []).join('\n') || 'failed in the guest');
      } else test.skip(name, () => {});
    }
  }
  for (const f of files) {
    if (!seen.has(relative(REPO_ROOT, f))) failing(`${prefix}${f}`, `no result for this guest file; guest output:\n${tail(log)}`);
  }
  if (run.exitCode !== 0 && failed === 0) {
    failing(`${prefix}guest vitest exit code`, `guest vitest exited ${run.exitCode} with no failed test; guest output:\n${tail(log)}`);
  }
}

/**
 * Boots the VM once per entry of `boots` (in order, so a later boot sees the kept disks of an
 * earlier one) and registers the guest results as host tests under describe(name). Call it
 * with top-level await in a host test file: tests are registered once the boots are done.
 */
export async function kernelSuite(name: string, boots: GuestBoot[]): Promise<void> {
  const avail = ensureVm();
  if (!avail.ok) {
    const reason = `kernel test bed unavailable: ${avail.reason}`;
    console.warn(`${name}: ${reason}${process.env.CI ? '' : ' (skipped; with CI set this fails)'}`);
    describe(name, () => {
      if (process.env.CI) failing('kernel test bed', reason);
      else test.skip(reason, () => {});
    });
    return;
  }
  const outcomes: Array<{ run?: VmRunResult; error?: Error }> = [];
  for (const boot of boots) {
    try {
      const run = await runInVm({
        command: guestCommand(boot.files),
        disks: boot.disks,
        timeoutSec: boot.timeoutSec ?? 120 + 120 * boot.files.length,
        env: { ...boot.env, SNAPSTORE_GUEST_REPORT: `${GUEST_RESULTS}/${REPORT}`, SNAPSTORE_GUEST_ORDER: boot.files.join(':') },
      });
      outcomes.push({ run });
    } catch (error) {
      outcomes.push({ error: error as Error });
    }
  }
  describe(name, () => {
    outcomes.forEach((o, i) => {
      const prefix = boots.length > 1 ? `boot ${i + 1}: ` : '';
      if (o.error) {
        failing(`${prefix}VM run`, o.error.message);
      } else if (o.run) {
        registerBoot(prefix, boots[i]!.files, o.run);
        if (!process.env.SNAPSTORE_VM_KEEP) rmSync(o.run.resultsDir, { recursive: true, force: true });
      }
    });
  });
}
