// Guest side of the dm load benchmark (runs in the VM; started by bench/dm/load.host.ts):
// create + load + resume of an N-segment linear table with our client, timed inside this
// process, against `dmsetup create` of the same table, timed around the dmsetup process
// (its start included, as a user would pay it). Also the table read-back both ways.
import { execFileSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { guestDisk, requireGuest, resultsDir } from '../../test/vm/guest.js';
import { DeviceMapper } from '../../src/dm/client.js';
import { DM_IOCTL_SIZE, encodeRequest, targetSpecsSize, writeTargetSpecs } from '../../src/dm/abi.js';
import { LinearTarget, tableFromSpecs, tableSpecs, type Table } from '../../src/dm/targets.js';
import { formatTable } from '../../src/dm/table-text.js';
import { fromDevT } from '../../src/linux/device-number.js';
import { sectors } from '../../src/units/units.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';
const ROUNDS = 3;
let dm: DeviceMapper;
const results: Record<string, unknown>[] = [];

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const dmsetup = (...args: string[]): string => execFileSync('dmsetup', args, { encoding: 'utf8', maxBuffer: 64 << 20 });

beforeAll(() => {
  dm = DeviceMapper.open();
});
afterAll(() => {
  writeFileSync(`${resultsDir}/dm-bench.json`, JSON.stringify(results, null, 2));
  dm.close();
});

test.each([10_000, 100_000])('create+load+resume of %i linear segments: ours vs dmsetup', async (n) => {
  const disk = guestDisk('bench');
  const dev = fromDevT(statSync(disk).rdev);
  // 8-sector segments in a scattered order, so that nothing coalesces.
  const table: Table = Array.from({ length: n }, (_, i) => new LinearTarget(sectors(8), dev, sectors(((i * 7) % n) * 8)));
  const text = formatTable(table, dm.features());
  const file = `/tmp/table-${n}`;
  writeFileSync(file, text + '\n');
  const ours: number[] = [];
  const theirs: number[] = [];
  const oursRead: number[] = [];
  const theirsRead: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let t = performance.now();
    await dm.createDevice(`bench-ours-${n}`, '', table);
    ours.push(performance.now() - t);
    t = performance.now();
    expect(dm.table(`bench-ours-${n}`).length).toBe(n);
    oursRead.push(performance.now() - t);
    await dm.remove(`bench-ours-${n}`);

    t = performance.now();
    dmsetup('create', `bench-dmsetup-${n}`, file);
    theirs.push(performance.now() - t);
    t = performance.now();
    const back = dmsetup('table', `bench-dmsetup-${n}`);
    theirsRead.push(performance.now() - t);
    expect(back.split('\n').filter(Boolean).length).toBe(n);
    dmsetup('remove', `bench-dmsetup-${n}`);
  }
  // Where our time goes, in one more round: rendering, each ioctl, decoding, parsing.
  const name = `bench-parts-${n}`;
  const lap = (() => {
    let t = performance.now();
    return () => {
      const d = (performance.now() - t) / 1000;
      t = performance.now();
      return d;
    };
  })();
  const specs = tableSpecs(table, dm.features());
  const renderSec = lap();
  // The packing loadSpecs does, alone (its buffer thrown away): load minus this is the kernel.
  writeTargetSpecs(encodeRequest({ name, targetCount: n }, DM_IOCTL_SIZE + targetSpecsSize(specs)), DM_IOCTL_SIZE, specs);
  const packSec = lap();
  dm.create(name);
  const createIoctlSec = lap();
  dm.loadSpecs(name, specs);
  const loadIoctlSec = lap();
  dm.resume(name);
  const resumeIoctlSec = lap();
  const back = dm.tableSpecs(name);
  const readDecodeSec = lap();
  tableFromSpecs(back);
  const parseSec = lap();
  await dm.remove(name);
  const parts = { renderSec, packSec, createIoctlSec, loadIoctlSec, resumeIoctlSec, readDecodeSec, parseSec };
  const row = {
    ...parts,
    segments: n,
    oursCreateSec: median(ours) / 1000,
    dmsetupCreateSec: median(theirs) / 1000,
    createRatio: median(ours) / median(theirs),
    oursTableReadSec: median(oursRead) / 1000,
    dmsetupTableReadSec: median(theirsRead) / 1000,
    rounds: ROUNDS,
  };
  results.push(row);
  console.log(JSON.stringify(row));
});
