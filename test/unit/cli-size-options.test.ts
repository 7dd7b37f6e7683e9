// extend --by/--to as the command passes them on:
// the library call is replaced, so only what the command line turns into
// bytes (or into bytes per store) is seen; the store's place is a folder here.
import * as os from 'node:os';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { run as extend } from '../../src/cli/commands/extend.js';
import { statfsUsage } from '../../src/linux/fs.js';
import { alignDown } from '../../src/units/units.js';
import { capture } from '../support/capture.js';

const seen = vi.hoisted(() => ({ extend: [] as Record<string, unknown>[], storesRead: 0 }));
vi.mock('../../src/snapshot/extend.js', async (original) => ({
  ...(await original<object>()),
  extendSnapshot: async (o: Record<string, unknown>) => (seen.extend.push(o), { message: 'grown' }),
}));
vi.mock('../../src/cli/sizes.js', async (original) => ({
  ...(await original<object>()),
  snapshotStore: () => (seen.storesRead++, { file: os.tmpdir(), chunkSize: 65536 }),
}));

const MiB = 1 << 20;
const stateDir = '/nonexistent-state';
beforeEach(() => {
  seen.extend.length = 0;
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
    [{ by: '1G', keepFree: '10%USED' }, /"10%USED" is a share of what the filesystem uses: a reserve is a size or a share of the filesystem's size/],
  ])('%j is refused before the library is called', async (o, message) => {
    await expect(extend({ name: 's', stateDir, ...o }, capture().ctx)).rejects.toMatchObject({ code: 'BAD_VALUE', usage: true, message: expect.stringMatching(message) });
    expect(seen.extend).toEqual([]);
  });
});
