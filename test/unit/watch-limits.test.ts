// The watcher's --max and --min-step for one store: bytes, or worked out for
// the store once; where they cannot be, the reason (the store is then
// watched as one that cannot grow: test/host/watch.test.ts).
import { describe, expect, it } from 'vitest';
import { UnitError, bytes } from '../../src/units/units.js';
import type { StoreManifest } from '../../src/store/manifest.js';
import { storeLimits, type WatchOptions } from '../../src/watch/watcher.js';

const MiB = 1 << 20;
const base: WatchOptions = { stateDir: '/nonexistent', onEvent: () => {} };
const store = { name: 'st', file: '/data/s.store', chunkSize: 65536 } as StoreManifest;
const unread = () => {
  throw new Error('the store was read');
};

describe('storeLimits', () => {
  it('no limits: no --max, 16 MiB steps, and no store read', () => {
    expect(storeLimits(base, unread)).toEqual({ max: Infinity, minStep: 16 * MiB });
  });

  it('plain bytes as they are, no store read', () => {
    expect(storeLimits({ ...base, max: bytes(8 << 20), minStep: bytes(MiB) }, unread)).toEqual({ max: 8 * MiB, minStep: MiB });
  });

  it('sizes per store, the store read once for both', () => {
    let reads = 0;
    const limits = storeLimits({ ...base, max: (s) => bytes(s.chunkSize * 100), minStep: (s) => bytes(s.chunkSize) }, () => (reads++, store));
    expect(limits).toEqual({ max: 6_553_600, minStep: 65536 });
    expect(reads).toBe(1);
  });

  it('a limit that cannot be worked out for the store: its reason', () => {
    const max = () => {
      throw new UnitError('--max "1G-20%" is an empty range', { usage: true });
    };
    expect(storeLimits({ ...base, max }, () => store)).toEqual({ max: Infinity, minStep: 16 * MiB, error: '--max "1G-20%" is an empty range' });
  });

  it('a bug is not taken for a reason', () => {
    const max = () => {
      throw new TypeError('oops');
    };
    expect(() => storeLimits({ ...base, max }, () => store)).toThrow(TypeError);
  });
});
