// extend --by/--to and watch --max/--min-step as the commands pass them on:
// the library calls are replaced, so only what the command line turns into
// bytes (or into bytes per store) is seen; the store's place is a folder here.
import * as os from 'node:os';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { run as extend } from '../../src/cli/commands/extend.js';
import { run as watch } from '../../src/cli/commands/watch.js';
import { statfsUsage } from '../../src/linux/fs.js';
import type { StoreManifest } from '../../src/store/manifest.js';
import { alignDown } from '../../src/units/units.js';
import { capture } from '../support/capture.js';

const seen = vi.hoisted(() => ({ extend: [] as Record<string, unknown>[], watch: [] as Record<string, unknown>[], storesRead: 0 }));
vi.mock('../../src/snapshot/extend.js', async (original) => ({
  ...(await original<object>()),
  extendSnapshot: async (o: Record<string, unknown>) => (seen.extend.push(o), { message: 'grown' }),
}));
vi.mock('../../src/watch/watcher.js', async (original) => ({
  ...(await original<object>()),
  watchSnapshots: async (o: Record<string, unknown>) => (seen.watch.push(o), { extensions: 0, acted: [], invalid: [] }),
}));
vi.mock('../../src/cli/sizes.js', async (original) => ({
  ...(await original<object>()),
  snapshotStore: () => (seen.storesRead++, { file: os.tmpdir(), chunkSize: 65536 }),
}));

const MiB = 1 << 20;
const stateDir = '/nonexistent-state';
beforeEach(() => {
  seen.extend.length = 0;
  seen.watch.length = 0;
  seen.storesRead = 0;
});

describe('extend --by / --to', () => {
  it('a plain size goes as it is, and no manifest is read for it', async () => {
    await extend({ name: 's', by: '512M', stateDir }, capture().ctx);
    expect(seen.extend[0]).toMatchObject({ by: 512 * MiB });
    expect(seen.storesRead).toBe(0);
  });

  it("a share is of the store's filesystem, in whole chunks of the store", async () => {
    await extend({ name: 's', to: '10%', stateDir }, capture().ctx);
    expect(seen.extend[0]).toMatchObject({ to: alignDown(Math.floor(statfsUsage(os.tmpdir()).sizeBytes / 10), 65536) });
    expect(seen.storesRead).toBe(1);
  });

  it.each([
    [{ by: '1G-' }, /--by "1G-" has no upper bound/],
    [{ to: '10%%' }, /--to "10%%" has more than one "%"/],
    [{ by: '1G', keepFree: '10%USED' }, /--keep-free "10%USED" is a share of what the filesystem uses: a reserve is a size or a share of the filesystem's size/],
  ])('%j is refused before the library is called', async (o, message) => {
    await expect(extend({ name: 's', stateDir, ...o }, capture().ctx)).rejects.toMatchObject({ code: 'BAD_VALUE', usage: true, message: expect.stringMatching(message) });
    expect(seen.extend).toEqual([]);
  });
});

describe('watch --max / --min-step', () => {
  it('a share goes to the watcher as a size per store; a plain size as bytes', async () => {
    await watch({ names: ['s'], interval: '100', max: '20%', minStep: '16M', stateDir }, capture().ctx);
    const o = seen.watch[0]!;
    expect(o['minStep']).toBe(16 * MiB);
    const max = o['max'] as (store: Pick<StoreManifest, 'file' | 'chunkSize'>) => number;
    expect(typeof max).toBe('function');
    expect(max({ file: os.tmpdir(), chunkSize: 4096 as StoreManifest['chunkSize'] })).toBe(alignDown(Math.floor(statfsUsage(os.tmpdir()).sizeBytes / 5), 4096));
  });

  it('a range empty on a store\'s filesystem is refused when worked out for it', async () => {
    await watch({ names: ['s'], interval: '100', minStep: '1P-1%', stateDir }, capture().ctx);
    const minStep = seen.watch[0]!['minStep'] as (store: Pick<StoreManifest, 'file' | 'chunkSize'>) => number;
    expect(() => minStep({ file: os.tmpdir(), chunkSize: 4096 as StoreManifest['chunkSize'] })).toThrow(/--min-step "1P-1%" is an empty range/);
  });

  it('a bad size is refused before anything is watched', async () => {
    await expect(watch({ names: ['s'], interval: '100', max: '-8G', stateDir }, capture().ctx)).rejects.toMatchObject({ usage: true, message: expect.stringMatching(/--max "-8G" starts with "-"/) });
    expect(seen.watch).toEqual([]);
  });
});
