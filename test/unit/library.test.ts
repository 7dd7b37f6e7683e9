import { describe, expect, it } from 'vitest';
import * as snapstore from '../../src/index.js';

describe('the library entry point', () => {
  it('offers every layer as a namespace, and the CLI\'s operations as functions', () => {
    expect(snapstore.units.parseSize('1.5G')).toBe(1610612736);
    for (const f of ['createStore', 'verifyStore', 'deleteStore', 'attachStore', 'detachStore', 'listStores'] as const) {
      expect(typeof snapstore.store[f]).toBe('function');
    }
    expect(typeof snapstore.cow.mergeOffline).toBe('function');
    expect(typeof snapstore.dm.DeviceMapper.open).toBe('function');
    expect(typeof snapstore.fiemap.mapFile).toBe('function');
    expect(typeof snapstore.doctor.doctor).toBe('function');
  });

  it('merges a store in memory, without the kernel', () => {
    const { CowWriter, mergeOffline } = snapstore.cow;
    const { MemoryIo } = snapstore.blockio;
    const { bytes, chunks, chunkSize } = snapstore.units;
    const chunk = chunkSize(bytes(4096));
    const origin = MemoryIo.zeroed(bytes(64 * 4096));
    const store = MemoryIo.zeroed(bytes(16 * 4096));
    const w = CowWriter.create(store, chunk);
    w.append(chunks(5), Buffer.alloc(4096, 9));
    w.commit();
    expect(mergeOffline(origin, store).outcome).toBe('merged');
    expect(origin.read(bytes(5 * 4096), bytes(4096)).every((b) => b === 9)).toBe(true);
  });
});
