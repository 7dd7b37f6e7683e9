// A `store create` killed part-way (kill -9) leaves a record of what it made:
// `store list` shows it, `store create` of that name refuses, and `store
// delete` removes the half-made file and the record, leaving nothing.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, snapstore } from './cli.js';
import type { LoopFs } from './loopfs.js';
import { listTree, makeLoopFs } from './loopfs.js';
import { EXIT } from '../../src/cli/exit-codes.js';

describe('store create killed part-way', () => {
  let lfs: LoopFs;
  let stateDir: string;
  beforeAll(async () => {
    lfs = await makeLoopFs('ext4', 600);
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-state-'));
  });
  afterAll(async () => {
    await lfs?.cleanup();
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it('is cleaned up by store delete, after which create works again', async () => {
    const file = path.join(lfs.storeDir, 'k');
    const before = listTree(lfs.storeDir);
    // --zero of 512 MiB keeps it busy long enough to be killed after allocation.
    const child = execa(BIN, ['store', 'create', 'k', '--store', file, '--size', '512M', '--zero', '--state-dir', stateDir], { reject: false });
    const record = path.join(stateDir, 'stores', 'k.creating');
    for (let i = 0; i < 400 && !(fs.existsSync(file) && fs.statSync(file).size > 0 && fs.existsSync(record)); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    const r = await child;
    expect(r.signal).toBe('SIGKILL');
    expect(fs.existsSync(file)).toBe(true);
    expect(fs.existsSync(path.join(stateDir, 'stores', 'k.json'))).toBe(false);

    const list = JSON.parse((await snapstore(['store', 'list', '--state-dir', stateDir, '--json'])).stdout).stores;
    expect(list).toEqual([expect.objectContaining({ name: 'k', problem: expect.stringMatching(/unfinished .*store delete k/) })]);
    const again = await snapstore(['store', 'create', 'k', '--store', path.join(lfs.storeDir, 'k2'), '--size', '4M', '--state-dir', stateDir]);
    expect(again.exitCode).toBe(EXIT.refused);
    expect(again.stderr).toMatch(/did not finish \(its file: .*\).*\n.*store delete k/);

    const d = await snapstore(['store', 'delete', 'k', '--state-dir', stateDir, '--json']);
    expect(d.exitCode).toBe(0);
    expect(JSON.parse(d.stdout)).toMatchObject({ name: 'k', fileDeleted: true });
    expect(listTree(lfs.storeDir)).toEqual(before);
    expect(fs.readdirSync(path.join(stateDir, 'stores'))).toEqual([]);

    const ok = await snapstore(['store', 'create', 'k', '--store', file, '--size', '4M', '--state-dir', stateDir]);
    expect(ok.exitCode).toBe(0);
  });
});
