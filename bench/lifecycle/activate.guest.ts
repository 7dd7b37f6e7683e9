// Part 1 of bench/lifecycle (guest side; host: lifecycle.host.ts): `activate` of a checkpoint
// whose store has about 10,000 segments, after a simulated reboot, against a shell script that
// does the same with dmsetup from saved table text. Interleaved rounds with the page cache warm
// (the guest reads every program, node included, over 9p from the host: a cold start there
// measures 9p under emulation), medians; then one round with the page cache dropped before
// each. Node's start counted apart: the library call in-process, the CLI in a fresh process,
// and `node -e 0` / `snapstore --version` for the runtime alone.
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { afterAll, expect, test } from 'vitest';
import { requireGuest, run } from '../../test/vm/guest.js';
import { activateSnapshots } from '../../src/snapshot/activate.js';
import { commitSnapshot } from '../../src/snapshot/commit.js';
import { createSnapshot } from '../../src/snapshot/create.js';
import { readSnapshot } from '../../src/snapshot/manifest.js';
import { readManifest } from '../../src/store/manifest.js';
import { StateDir } from '../../src/state/state-dir.js';
import { fallocate, punchHole } from '../../src/linux/fs.js';
import { bytes, chunkSize, parseSize } from '../../src/units/units.js';
import { cli, dropCaches, ext4, median, metaDir, ms, passthrough, ROOT, round, savePart, sectorsOf, sh, simulateReboot, timed, type Part } from './guest-common.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';

const NAME = 'act';
const ORIGIN_DM = 'data-act';
const MNT = `${ROOT}/act`;
const ROUNDS = Number(process.env.LIFECYCLE_ACTIVATE_ROUNDS ?? 5);
const STORE_SIZE = process.env.LIFECYCLE_ACTIVATE_STORE ?? '40M';

const part: Part = { title: '1. activate of a checkpoint whose store has ~10,000 segments (after a simulated reboot)', tables: [], notes: [] };
afterAll(() => savePart('activate', part));

/**
 * The baseline: what `snapstore activate act` does, by hand with dmsetup, from what an admin
 * would have saved while the checkpoint was live (the -cow table text, with -real's device
 * number left to fill in, and the origin's size).
 */
function baselineScript(cowTable: string, sectors: number): string {
  const dir = `${ROOT}/act-baseline`;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(`${dir}/cow.table`, cowTable);
  const script = `${dir}/activate.sh`;
  fs.writeFileSync(
    script,
    [
      '#!/bin/sh',
      '# snapstore activate act, by hand',
      'set -e',
      `O=${ORIGIN_DM}; N=snapstore-${NAME}; SZ=${sectors}`,
      'dmsetup table $O | dmsetup create $N-real',
      'DEV=$(dmsetup info -c --noheadings -o devno $N-real)',
      `sed "s/@REAL@/$DEV/" ${dir}/cow.table | dmsetup create $N-cow`,
      'dmsetup suspend $O',
      'dmsetup load $O --table "0 $SZ snapshot-origin /dev/mapper/$N-real"',
      'dmsetup create $N-snap --table "0 $SZ snapshot /dev/mapper/$N-real /dev/mapper/$N-cow P 8"',
      'dmsetup resume $O',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return script;
}

test('activate: ours (library in-process, and the CLI) vs a dmsetup script, 10,000-segment store', async () => {
  const state = `${metaDir('act')}/state`;
  const opts = { stateDir: state, log: () => {} };
  const origin = passthrough(ORIGIN_DM, 'act');
  const sectors = sectorsOf(origin);

  // A filesystem whose free space is in 4 KiB pieces: all of it allocated, every other block punched.
  let t = performance.now();
  ext4(origin, MNT, ['-b', '4096', '-m', '0']);
  const comb = `${MNT}/comb`;
  const st = fs.statfsSync(MNT);
  let size = st.bavail * st.bsize - (2 << 20);
  size -= size % 8192;
  const fd = fs.openSync(comb, 'w');
  fallocate(fd, comb, bytes(0), bytes(size));
  for (let at = 0; at < size; at += 8192) punchHole(fd, comb, bytes(at), bytes(4096));
  fs.closeSync(fd);
  sh('sync');
  const fragmentSec = (performance.now() - t) / 1000;

  t = performance.now();
  const created = await createSnapshot({ ...opts, name: NAME, origin, store: `${MNT}/.snapstore/${NAME}.store`, size: parseSize(STORE_SIZE), chunk: chunkSize(bytes(4096)), mode: 'checkpoint' });
  const createSec = (performance.now() - t) / 1000;
  expect(created.manifest?.state).toBe('active');
  const store = readManifest(StateDir.need(state), readSnapshot(StateDir.need(state), NAME).store);
  const segments = store.segments.length;
  const cowLines = run('dmsetup', ['table', `snapstore-${NAME}-cow`]).trim().split('\n');
  expect(cowLines.length).toBe(segments);
  console.log(`store: ${segments} segments (${STORE_SIZE}); fragmenting took ${round(fragmentSec, 1)} s, create ${round(createSec, 1)} s`);

  // Something for the snapshot to hold, then the admin's saved table text, then the "reboot".
  fs.writeFileSync(`${MNT}/update.bin`, Buffer.alloc(4 << 20, 7));
  sh('sync');
  const realDev = run('dmsetup', ['info', '-c', '--noheadings', '-o', 'devno', `snapstore-${NAME}-real`]).trim();
  const saved = cowLines.map((l) => l.replace(` ${realDev} `, ' @REAL@ ')).join('\n') + '\n';
  expect(saved.split('@REAL@').length - 1).toBe(segments);
  const script = baselineScript(saved, sectors);
  run('umount', [MNT]);
  const reference = run('dmsetup', ['status', `snapstore-${NAME}-snap`]).trim();
  simulateReboot(NAME, ORIGIN_DM);
  expect(run('dmsetup', ['table', ORIGIN_DM]).trim()).toMatch(/ linear /);

  /** After each activation: the stack is what a live checkpoint is (one shell: the checks cost little); then down again. */
  const check = (): void => {
    const seen = sh(`dmsetup table ${ORIGIN_DM}; dmsetup status snapstore-${NAME}-snap; dmsetup info -c --noheadings -o segments snapstore-${NAME}-cow`).trim().split('\n');
    expect(seen[0]).toMatch(/ snapshot-origin /);
    expect(seen[1]).toBe(reference);
    expect(Number(seen[2])).toBe(segments);
    simulateReboot(NAME, ORIGIN_DM);
  };

  const cases: Record<string, () => Promise<unknown> | unknown> = {
    'ours, library call in-process': async () => {
      const r = await activateSnapshots({ ...opts, names: [NAME] });
      expect(r[0]?.action).toBe('activated');
    },
    'ours, CLI (snapstore activate act --json)': () => {
      expect(cli(['activate', NAME, '--state-dir', state])).toMatchObject({ snapshots: [{ name: NAME, action: 'activated' }] });
    },
    'dmsetup script (7 dmsetup calls, sed)': () => run('sh', [script]),
  };
  const startup: Record<string, () => unknown> = {
    'node -e 0': () => run('node', ['-e', '0']),
    'snapstore --version': () => run('node', ['bin/snapstore', '--version']),
    'snapstore activate --json, no state directory (nothing to do)': () => expect(cli(['activate', '--state-dir', `${ROOT}/no-state`])).toEqual({ schemaVersion: 1, snapshots: [] }),
  };
  const names = Object.keys(cases);
  const times: Record<string, number[]> = Object.fromEntries([...names, ...Object.keys(startup)].map((n) => [n, []]));

  // One warm-up round of each (not counted), then rounds in a rotating order.
  for (const n of names) {
    await cases[n]!();
    check();
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < names.length; i++) {
      const n = names[(r + i) % names.length]!;
      run('sync');
      times[n]!.push(await timed(cases[n]!));
      check();
    }
    for (const [n, f] of Object.entries(startup)) times[n]!.push(await timed(f));
  }
  // Cold: the page cache dropped before each (programs read again over 9p, the manifests from the disk).
  const cold: Record<string, number> = {};
  for (const n of names) {
    dropCaches();
    cold[n] = await timed(cases[n]!);
    check();
  }

  // Where our in-process activate spends its time: one more run, each line it says time-stamped.
  run('sync');
  const lines: { at: number; line: string }[] = [];
  const t0 = performance.now();
  await activateSnapshots({ stateDir: state, names: [NAME], log: (line) => lines.push({ at: performance.now() - t0, line }) });
  const total = performance.now() - t0;
  check();

  const med = Object.fromEntries(Object.entries(times).map(([n, xs]) => [n, median(xs)]));
  const lib = med['ours, library call in-process']!;
  const cliMs = med['ours, CLI (snapstore activate act --json)']!;
  const base = med['dmsetup script (7 dmsetup calls, sed)']!;
  part.tables.push({
    caption: `median of ${ROUNDS} interleaved rounds (page cache warm); store ${STORE_SIZE} in ${segments} segments; cold = one run with the page cache dropped first`,
    rows: Object.entries(times).map(([n, xs]) => ({
      case: n,
      'median ms': ms(med[n]!),
      'min ms': ms(Math.min(...xs)),
      'max ms': ms(Math.max(...xs)),
      'vs dmsetup script': n in startup ? '' : round(med[n]! / base),
      'cold ms': n in cold ? ms(cold[n]!) : '',
    })),
  });
  part.tables.push({
    caption: 'ratios (median / median)',
    rows: [
      { what: 'ours in-process / dmsetup script', ratio: round(lib / base), goal: '<= 1 (no slower)', met: lib <= base },
      { what: 'ours CLI / dmsetup script', ratio: round(cliMs / base), goal: '', met: '' },
      { what: 'CLI - in-process (Node start + CLI bundle load), ms', ratio: ms(cliMs - lib), goal: '', met: '' },
      { what: 'node -e 0, ms', ratio: ms(med['node -e 0']!), goal: '', met: '' },
      { what: 'CLI start for activate (nothing to do), ms', ratio: ms(med['snapstore activate --json, no state directory (nothing to do)']!), goal: '', met: '' },
    ],
  });
  part.tables.push({
    caption: `one more in-process activate, its narration time-stamped (total ${ms(total)} ms)`,
    rows: lines.map((l) => ({ 'at ms': ms(l.at), line: l.line.slice(0, 110) })),
  });
  part.notes.push(`fragmented ext4 on ${ORIGIN_DM} (${round(fragmentSec, 1)} s to make), checkpoint created in ${round(createSec, 1)} s; the dmsetup script creates -real from the origin's table, -cow from the saved text (-real's device number put in by sed), suspends the origin, loads snapshot-origin, creates -snap, resumes`);

  // Clean up: the checkpoint committed (the store is deleted once its filesystem is mounted).
  await activateSnapshots({ ...opts, names: [NAME] });
  run('mount', [origin, MNT]);
  expect((await commitSnapshot({ ...opts, name: NAME })).outcome).toBe('committed');
  run('umount', [MNT]);
  run('dmsetup', ['remove', ORIGIN_DM]);
}, 1_200_000);
