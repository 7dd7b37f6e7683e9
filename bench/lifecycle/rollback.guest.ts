// Part 4 of bench/lifecycle (guest side; host: lifecycle.host.ts): rollback by the kernel's
// merge (`snapstore rollback NAME --wait`) against our offline merge (`rollback NAME
// --offline`), after a simulated reboot, on two identical filesystems (one made, then copied
// block for block) that took the same checkpoint and the same update; two rounds: (a) an
// update of files (files of many sizes rewritten, new files added, a folder deleted), (b)
// scattered 4 KiB overwrites in place inside a large file. Both through the CLI, as the boot
// or an update agent runs them; page cache dropped before each, then the CLI started once
// untimed (`status`), so both start from the same warm Node and neither reads programs over
// 9p. Afterwards both trees are the tree before the update, fsck clean.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, expect, test } from 'vitest';
import { guestDisk, requireGuest, run } from '../../test/vm/guest.js';
import { copyDevice } from '../../test/kernel/cow-helpers.js';
import { tree } from '../../test/kernel/lifecycle-helpers.js';
import { createSnapshot } from '../../src/snapshot/create.js';
import { recoverSnapshots } from '../../src/snapshot/recover.js';
import { snapshotStatus } from '../../src/snapshot/status.js';
import { bytes, chunkSize, parseSize } from '../../src/units/units.js';
import { cli, dropCaches, metaDir, MiB, ms, passthrough, ROOT, round, savePart, seeded, sh, simulateReboot, snapUsage, timed, type Part } from './guest-common.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';

const BIG = 64 * MiB;
const SCATTERED = Number(process.env.LIFECYCLE_ROLLBACK_SCATTERED ?? 4096);
const SIDES = { k: { disk: 'rk', dm: 'data-rk', mnt: `${ROOT}/rk` }, o: { disk: 'ro', dm: 'data-ro', mnt: `${ROOT}/ro` } } as const;
const MIX: [number, number][] = [
  [8, 1 << 20],
  [64, 16 << 10],
  [512, 1 << 10],
];

const part: Part = { title: '4. rollback after a simulated reboot: the kernel\'s merge (--wait) vs our offline merge (--offline)', tables: [], notes: [] };
afterAll(() => savePart('rollback', part));

function fill(mnt: string): void {
  const fd = fs.openSync(`${mnt}/big.bin`, 'w');
  for (let at = 0; at < BIG; at += 8 * MiB) fs.writeSync(fd, randomBytes(8 * MiB), 0, 8 * MiB, at);
  fs.closeSync(fd);
  for (const [n, size] of MIX) {
    fs.mkdirSync(`${mnt}/s${size}`, { recursive: true });
    for (let i = 0; i < n; i++) fs.writeFileSync(`${mnt}/s${size}/f${i}`, randomBytes(size));
  }
  fs.mkdirSync(`${mnt}/old`);
  for (let i = 0; i < 200; i++) fs.writeFileSync(`${mnt}/old/f${i}`, randomBytes(8 << 10));
  sh('sync');
}

/** An update of files, as an updater makes one: half the files rewritten, new files, a folder deleted. */
function filesUpdate(mnt: string): number {
  let written = 0;
  for (const [n, size] of MIX) {
    for (let i = 0; i < n; i += 2) {
      fs.writeFileSync(`${mnt}/s${size}/f${i}`, randomBytes(size));
      written += size;
    }
  }
  fs.mkdirSync(`${mnt}/new`);
  for (let i = 0; i < 64; i++) {
    fs.writeFileSync(`${mnt}/new/f${i}`, randomBytes(128 << 10));
    written += 128 << 10;
  }
  fs.rmSync(`${mnt}/old`, { recursive: true });
  sh('sync');
  return written;
}

/** Scattered 4 KiB overwrites in place inside the large file (a database's pattern); the same offsets on both sides. */
function scatteredUpdate(mnt: string): number {
  let written = 0;
  const rand = seeded(777);
  const fd = fs.openSync(`${mnt}/big.bin`, 'r+');
  const seen = new Set<number>();
  while (seen.size < SCATTERED) seen.add(Math.floor(rand() * (BIG / 4096)));
  for (const b of seen) written += fs.writeSync(fd, randomBytes(4096), 0, 4096, b * 4096);
  fs.closeSync(fd);
  sh('sync');
  return written;
}

/**
 * The programs snapstore may start (blkid, losetup, modprobe, udevadm), each behind a wrapper
 * that logs when it ran (guest uptime, from /proc/uptime with the shell's own `read`) and how
 * long, then runs the real one: what a CLI run spends outside itself. A few ms per call.
 */
const TRACE_BIN = `${ROOT}/trace-bin`;
const TRACE_LOG = `${ROOT}/exec.log`;
function traceWrappers(): void {
  fs.mkdirSync(TRACE_BIN, { recursive: true });
  for (const prog of ['blkid', 'losetup', 'modprobe', 'udevadm']) {
    const real = sh(`command -v ${prog} || true`).trim();
    if (!real) continue;
    fs.writeFileSync(
      `${TRACE_BIN}/${prog}`,
      `#!/bin/sh\nread a _ </proc/uptime\n${real} "$@"\nrc=$?\nread b _ </proc/uptime\necho "$a $b ${prog} $*" >>${TRACE_LOG}\nexit $rc\n`,
      { mode: 0o755 },
    );
  }
}
const uptime = (): number => Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);

interface Narrated {
  ms: number;
  out: unknown;
  lines: { at: number; line: string }[];
  programs: { at: number; ms: number; cmd: string }[];
}

/** A CLI run with each line it says on stderr time-stamped (ms since the start), and the programs it started. */
function narrated(args: string[]): Promise<Narrated> {
  fs.writeFileSync(TRACE_LOG, '');
  return new Promise((resolve, reject) => {
    const up0 = uptime();
    const t0 = performance.now();
    const child = spawn('node', ['bin/snapstore', ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: `${TRACE_BIN}:${process.env.PATH}` } });
    let out = '';
    let pending = '';
    const lines: { at: number; line: string }[] = [];
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => {
      pending += b.toString();
      const parts = pending.split('\n');
      pending = parts.pop()!;
      for (const line of parts) lines.push({ at: performance.now() - t0, line });
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      const programs = fs
        .readFileSync(TRACE_LOG, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const [a, b, ...cmd] = l.split(' ');
          return { at: (Number(a) - up0) * 1000, ms: (Number(b) - Number(a)) * 1000, cmd: cmd.join(' ') };
        });
      if (code !== 0) reject(new Error(`snapstore ${args.join(' ')} exited ${code}: ${out}${pending}`));
      else resolve({ ms, out: JSON.parse(out), lines, programs });
    });
  });
}

async function rollbackRound(label: string, tag: string, update: (mnt: string) => number, state: string): Promise<void> {
  const opts = { stateDir: state, log: () => {} };
  // The two sides identical block for block (the one filled first, copied), but for the UUID:
  // a system has one filesystem of each UUID (seen on its disk and on the passthrough over it),
  // and snapstore looks a store's filesystem up by UUID (blkid).
  copyDevice(guestDisk('rk'), guestDisk('ro'));
  run('e2fsck', ['-fp', guestDisk('ro')]);
  run('tune2fs', ['-U', 'random', guestDisk('ro')]);
  dropCaches();
  const before: Record<string, Record<string, string>> = {};
  const exceptions: Record<string, number> = {};
  let written = 0;
  for (const [x, side] of Object.entries(SIDES)) {
    const dev = passthrough(side.dm, side.disk);
    fs.mkdirSync(side.mnt, { recursive: true });
    run('mount', [dev, side.mnt]);
    before[x] = tree(side.mnt);
    const name = `${tag}-${x}`;
    const r = await createSnapshot({ ...opts, name, origin: dev, store: `${side.mnt}/.snapstore/${name}.store`, size: parseSize('96M'), chunk: chunkSize(bytes(4096)), mode: 'checkpoint' });
    expect(r.manifest?.state).toBe('active');
    written = update(side.mnt);
    run('umount', [side.mnt]);
    const u = snapUsage(`snapstore-${name}-snap`);
    exceptions[x] = (u.allocated - u.metadata) / 8;
    expect(snapshotStatus({ stateDir: state, name })[0]!.health).toBe('valid');
    simulateReboot(name, side.dm);
  }
  expect(before.o).toEqual(before.k);
  // The same update on identical filesystems: about the same exceptions (ext4 places new folders with some randomness).
  expect(Math.abs(exceptions.k! - exceptions.o!)).toBeLessThan(exceptions.k! * 0.05 + 16);

  // Each from the same start: page cache dropped, then the CLI once untimed (`status`), so
  // neither reads Node over 9p while timed.
  const fresh = (): void => {
    dropCaches();
    cli(['status', '--state-dir', state]);
  };
  fresh();
  const nodeMs = await timed(() => run('node', ['-e', '0']));
  const k = await narrated(['rollback', `${tag}-k`, '--wait', '--state-dir', state]);
  expect(k.out).toMatchObject({ outcome: 'rolled-back' });
  fresh();
  const o = await narrated(['rollback', `${tag}-o`, '--offline', '--state-dir', state]);
  expect(o.out).toMatchObject({ outcome: 'rolled-back' });

  // Both back to the tree before the update, fsck clean, the stores deleted once mounted.
  for (const [x, side] of Object.entries(SIDES)) {
    const dev = `/dev/mapper/${side.dm}`;
    expect(run('dmsetup', ['table', side.dm])).not.toMatch(/snapshot/);
    run('mount', [dev, side.mnt]);
    expect(tree(side.mnt)).toEqual(before[x]);
    await recoverSnapshots(opts);
    expect(fs.readdirSync(path.join(side.mnt, '.snapstore'))).toEqual([]);
    run('umount', [side.mnt]);
    run('fsck.ext4', ['-fn', dev]);
    run('dmsetup', ['remove', side.dm]);
  }

  // The merge alone, from the narration: the kernel's from loading snapshot-merge to loading the
  // origin's own table again (status polled every 250 ms); ours from "merging store" to the next event.
  const at = (r: Narrated, re: RegExp): number => r.lines.find((l) => re.test(l.line))?.at ?? Number.NaN;
  const kMerge = at(k, /loading snapshot-merge/) >= 0 ? at(k, /own table again/) - at(k, /loading snapshot-merge/) : Number.NaN;
  const oStart = at(o, /merging store/);
  const oNext = Math.min(...o.lines.filter((l) => l.at > oStart).map((l) => l.at), ...o.programs.filter((p) => p.at > oStart).map((p) => p.at));
  const blkidMs = (r: Narrated): number => r.programs.filter((p) => p.cmd.startsWith('blkid')).reduce((a, p) => a + p.ms, 0);
  part.tables.push({
    caption: `${label}: one run each (the CLI, Node's start in both); ${exceptions.k} / ${exceptions.o} exceptions of 4 KiB (${round((exceptions.k! * 4096) / MiB)} MiB) for an update that wrote ${round(written / MiB)} MiB`,
    rows: [
      { case: `snapstore rollback ${tag}-k --wait (kernel snapshot-merge, polled every 250 ms)`, ms: ms(k.ms), 'kernel / offline': round(k.ms / o.ms, 2), 'merge alone ms': ms(kMerge), 'merge alone kernel / offline': round(kMerge / (oNext - oStart), 2), 'blkid runs': k.programs.length, 'in blkid ms': ms(blkidMs(k)) },
      { case: `snapstore rollback ${tag}-o --offline (our merge)`, ms: ms(o.ms), 'kernel / offline': '', 'merge alone ms': ms(oNext - oStart), 'merge alone kernel / offline': '', 'blkid runs': o.programs.length, 'in blkid ms': ms(blkidMs(o)) },
      { case: 'node -e 0 (the start both include)', ms: ms(nodeMs), 'kernel / offline': '', 'merge alone ms': '', 'merge alone kernel / offline': '', 'blkid runs': '', 'in blkid ms': '' },
    ],
  });
  part.tables.push({
    caption: `${label}: what each said on stderr and the programs it started (at: ms since its start; /proc/uptime has 10 ms steps)`,
    rows: [k, o].flatMap((r, i) =>
      [...r.lines.map((l) => ({ at: l.at, what: l.line })), ...r.programs.map((p) => ({ at: p.at, what: `[ran ${p.cmd} for ${ms(p.ms)} ms]` }))]
        .sort((a, b) => a.at - b.at)
        .map((x) => ({ run: i === 0 ? '--wait' : '--offline', 'at ms': ms(x.at), what: x.what.slice(0, 100) })),
    ),
  });
}

test('rollback --wait (kernel merge) vs rollback --offline (ours), the same update on identical filesystems', async () => {
  const state = `${metaDir('rb')}/state`;
  // One filesystem, made and filled once; each round copies it block for block to the other disk.
  const rk = guestDisk('rk');
  run('mkfs.ext4', ['-q', '-F', rk]);
  fs.mkdirSync(SIDES.k.mnt, { recursive: true });
  run('mount', [rk, SIDES.k.mnt]);
  fs.mkdirSync(`${SIDES.k.mnt}/.snapstore`, { mode: 0o700 });
  fill(SIDES.k.mnt);
  run('umount', [SIDES.k.mnt]);
  traceWrappers();

  await rollbackRound('a. an update of files (584 files of 1 MiB/16 KiB/1 KiB, half rewritten; 64 new files of 128 KiB; a folder of 200 files deleted)', 'rbf', filesUpdate, state);
  await rollbackRound(`b. ${SCATTERED} scattered 4 KiB overwrites in place in a 64 MiB file (same offsets on both sides)`, 'rbs', scatteredUpdate, state);
  part.notes.push('two ext4 filesystems identical block for block (one made, then copied; the copy then given its own UUID), each a checkpoint with a 96 MiB store on itself, chunk 4 KiB; the same update on both; a simulated reboot; then the two rollbacks. Afterwards both trees equal the tree before the update and fsck -fn is clean');
}, 1_200_000);
