// Shared by the guest files of bench/lifecycle (they run inside the VM, one boot, one vitest
// process): the metadata disk the state directories live on, origins as the system would set
// them up at boot (dm passthroughs over virtio disks), a reboot as dmsetup can simulate it,
// timing and medians, and where each part writes its figures for the host to print.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { guestDisk, resultsDir, run } from '../../test/vm/guest.js';
import { parseSnapshotStatus } from '../../src/dm/status.js';

export const ROOT = '/tmp/bench';
export const META = `${ROOT}/meta`;

export function sh(script: string): string {
  return run('sh', ['-c', script]);
}

function mounted(dir: string): boolean {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir);
}

/** The metadata disk (state directories, saved tables): made and mounted by the first part that asks. */
export function metaDir(part: string): string {
  if (!mounted(META)) {
    const dev = guestDisk('meta');
    run('mkfs.ext4', ['-q', '-F', dev]);
    fs.mkdirSync(META, { recursive: true });
    run('mount', [dev, META]);
  }
  const dir = `${META}/${part}`;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

// The same helpers as the lifecycle suite's.
export { passthrough, sectorsOf } from '../../test/kernel/lifecycle-helpers.js';
export { seeded } from '../../test/kernel/cow-helpers.js';

export function ext4(dev: string, mnt: string, mkfsArgs: string[] = []): void {
  run('mkfs.ext4', ['-q', '-F', ...mkfsArgs, dev]);
  fs.mkdirSync(mnt, { recursive: true });
  run('mount', [dev, mnt]);
  fs.mkdirSync(`${mnt}/.snapstore`, { mode: 0o700 });
}

export function dmExists(name: string): boolean {
  try {
    execFileSync('dmsetup', ['info', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * What a reboot leaves of a live checkpoint NAME over the dm device `originDm`: the origin on
 * its own table again (the one `snapstore-NAME-real` carries), -snap, -cow and -real gone.
 * The origin must not be mounted. One shell, so that only dmsetup's own start is paid.
 */
export function simulateReboot(name: string, originDm: string): void {
  const n = `snapstore-${name}`;
  sh(
    [
      `dmsetup table ${n}-real | dmsetup load ${originDm}`,
      `dmsetup resume ${originDm}`,
      ...['snap', 'cow', 'real'].map((role) => `if dmsetup info ${n}-${role} >/dev/null 2>&1; then dmsetup remove ${n}-${role}; fi`),
    ].join(' && '),
  );
}

export function dropCaches(): void {
  run('sync');
  fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
}

/** Milliseconds `f` takes (awaited). */
export async function timed(f: () => unknown): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return Number.NaN;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

export const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;
export const ms = (x: number): number => Math.round(x);
export const MiB = 1 << 20;

/** `dmsetup status` of a snapshot device, parsed: sectors allocated (data and metadata) and metadata. */
export function snapUsage(dev: string): { allocated: number; total: number; metadata: number } {
  const line = run('dmsetup', ['status', dev]).trim();
  const params = line.split(' ').slice(3).join(' ');
  const s = parseSnapshotStatus(params);
  if (s.state !== 'active') throw new Error(`${dev}: status ${line}`);
  return { allocated: Number(s.allocated), total: Number(s.total), metadata: Number(s.metadata) };
}

export interface Part {
  title: string;
  tables: { caption: string; rows: Record<string, unknown>[] }[];
  notes: string[];
}

/** Writes one part's figures where the host reads them (the results share). */
export function savePart(part: string, p: Part): void {
  fs.writeFileSync(`${resultsDir}/lifecycle-${part}.json`, JSON.stringify(p, null, 2));
}

/** The CLI as an update agent or a boot unit runs it: a fresh Node process. */
export function cli(args: string[]): unknown {
  return JSON.parse(run('node', ['bin/snapstore', ...args, '--json']));
}
