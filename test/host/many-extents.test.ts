// A store file of more than 100,000 extents maps exactly as filefrag sees it
// (FIEMAP read in batches until the LAST flag), as a table and through create.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDeviceNumber, fromDevT } from '../../src/linux/device-number.js';
import { snapstore } from './cli.js';
import { filefragExtents, tableFromFilefrag } from './filefrag.js';
import type { LoopFs } from './loopfs.js';
import { fragmentFreeSpace, makeLoopFs } from './loopfs.js';

describe('a file of more than 100,000 extents', () => {
  let lfs: LoopFs;
  let file: string;

  beforeAll(async () => {
    lfs = await makeLoopFs('ext4', 1200);
    // Every other 4 KiB block of ~1.1 GB free: ~140,000 holes.
    await fragmentFreeSpace(lfs.mountpoint, 1150);
    file = path.join(lfs.storeDir, 'big');
    await execa('fallocate', ['-l', '500M', file]);
  }, 300_000);
  afterAll(async () => lfs?.cleanup());

  it('maps exactly as filefrag -v -b512 sees it', async () => {
    const extents = await filefragExtents(file);
    expect(extents.length).toBeGreaterThan(100_000);
    const dev = formatDeviceNumber(fromDevT(fs.statSync(file, { bigint: true }).dev));
    const want = tableFromFilefrag(extents, dev, 8);
    const r = await snapstore(['map', file]);
    expect(r.exitCode).toBe(0);
    const got = r.stdout.split('\n');
    expect(got.length).toBe(want.length);
    // Compare whole, but report the first difference readably.
    const firstDiff = got.findIndex((line, i) => line !== want[i]);
    expect(firstDiff === -1 ? null : { at: firstDiff, got: got[firstDiff], want: want[firstDiff] }).toBeNull();
  });

  it('store create proves a map of that many segments (--full-proof: every one)', async () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-state-'));
    try {
      fs.unlinkSync(file);
      const r = await snapstore(['store', 'create', 'big', '--store', file, '--size', '500M', '--full-proof', '--state-dir', stateDir, '--json']);
      expect(r.exitCode).toBe(0);
      expect(JSON.parse(r.stdout).segments).toBeGreaterThan(100_000);
      expect(JSON.parse(r.stdout).provedSegments).toBe(JSON.parse(r.stdout).segments);
      const v = await snapstore(['store', 'verify', 'big', '--state-dir', stateDir]);
      expect(v.exitCode).toBe(0);
      expect((await snapstore(['store', 'delete', 'big', '--state-dir', stateDir])).exitCode).toBe(0);
    } finally {
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('store create proves a sample of them by default, spread over the device', async () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-state-'));
    try {
      const r = await snapstore(['store', 'create', 'big2', '--store', file, '--size', '500M', '--state-dir', stateDir, '--json']);
      expect(r.exitCode).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.segments).toBeGreaterThan(100_000);
      expect(out.provedSegments).toBe(512);
      expect(r.stderr).toMatch(/a signature into 512 of its \d+ segments, spread over the device/);
      expect((await snapstore(['store', 'verify', 'big2', '--state-dir', stateDir])).exitCode).toBe(0);
      expect((await snapstore(['store', 'delete', 'big2', '--state-dir', stateDir])).exitCode).toBe(0);
    } finally {
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
