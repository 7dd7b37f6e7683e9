// Size options on the command line: shares measured where the store lives.
// Only refusals and arithmetic run here: nothing is created.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { run as create } from '../../src/cli/commands/create.js';
import { run as storeCreate } from '../../src/cli/commands/store-create.js';
import { newStoreSize } from '../../src/cli/sizes.js';
import { statfsUsage } from '../../src/linux/fs.js';
import { alignDown, bytes, chunkSize } from '../../src/units/units.js';
import { capture } from '../support/capture.js';

const MiB = 1 << 20;
const chunk = chunkSize(bytes(64 * 1024));
const here = os.tmpdir();
const missing = path.join(here, `snapstore-no-such-folder-${process.pid}`, 'x.store');

describe('statfsUsage', () => {
  it('reads the size and what is used of the filesystem holding a path', () => {
    const s = fs.statfsSync(here);
    const u = statfsUsage(here);
    expect(u.sizeBytes).toBe(s.blocks * s.bsize);
    expect(u.usedBytes).toBeLessThanOrEqual(u.sizeBytes);
  });
  it('names the path it could not read', () => {
    expect(() => statfsUsage(missing)).toThrow(expect.objectContaining({ code: 'ENOENT', message: expect.stringContaining(missing) }));
  });
});

describe('newStoreSize: --size of a store to be made', () => {
  it('a share is of the filesystem of the folder the store is made in, in whole chunks', () => {
    const { sizeBytes } = statfsUsage(here);
    expect(newStoreSize('10%', path.join(here, 'x.store'), chunk)).toBe(alignDown(Math.floor(sizeBytes / 10), chunk.bytes));
  });
  it('%USED is of what that filesystem uses now (others write meanwhile: near enough)', () => {
    const got = newStoreSize('50%USED', path.join(here, 'x.store'), chunk);
    expect(got % chunk.bytes).toBe(0);
    expect(Math.abs(got - statfsUsage(here).usedBytes / 2)).toBeLessThan(256 * MiB);
  });
  it('a plain size needs no folder', () => {
    expect(newStoreSize('2G', missing, chunk)).toBe(2 * 2 ** 30);
    expect(() => newStoreSize('2G-1G', missing, chunk)).toThrow(/--size "2G-1G" is an empty range/);
  });
  it('a share of a folder that is not there yet is refused, naming it', () => {
    const folder = path.dirname(missing);
    expect(() => newStoreSize('1G-10%', missing, chunk)).toThrow(
      expect.objectContaining({ code: 'BAD_VALUE', usage: true, message: `--size "1G-10%" is a share of the filesystem holding ${folder}, which is not there (yet) to measure`, hint: expect.stringMatching(/or give a plain size such as 2G/) }),
    );
  });
});

describe('create and store create refuse a bad size before doing anything', () => {
  const common = { name: 'x', store: missing, stateDir: path.join(here, `snapstore-no-state-${process.pid}`) };
  it.each([
    ['--size', { size: '1G-', chunkSize: '4K' }, /--size "1G-" has no upper bound/],
    ['--size', { size: '150%', chunkSize: '4K' }, /--size "150%" is more than 100% of the filesystem/],
    ['--size', { size: '10%', chunkSize: '4K' }, /--size "10%" is a share of the filesystem holding .*, which is not there \(yet\)/],
    ['--chunk-size', { size: '1G', chunkSize: '1%' }, /chunk size "1%" is not a plain size/],
  ])('%s %j', async (_, opts, message) => {
    for (const run of [(c: ReturnType<typeof capture>) => storeCreate({ ...common, ...opts }, c.ctx), (c: ReturnType<typeof capture>) => create({ ...common, ...opts, origin: '/dev/null', mode: 'checkpoint' }, c.ctx)]) {
      const c = capture();
      await expect(run(c)).rejects.toMatchObject({ code: 'BAD_VALUE', usage: true, message: expect.stringMatching(message) });
      expect([...c.out, ...c.err]).toEqual([]);
    }
    expect(fs.existsSync(common.stateDir)).toBe(false);
  });
});
