/**
 * What must hold after any crash and a `recover`, on the fake device-mapper
 * (host) as on the kernel (VM): nothing left suspended; the origin on its
 * own table, or carrying our live snapshot or our merge, as the manifest's
 * state calls for; no device of ours leaked; the manifest parses and agrees
 * with the kernel; the store exists exactly when the state needs it.
 */
import { expect } from 'vitest';
import type { DeviceMapperApi } from '../../src/dm/api.js';
import { formatTable } from '../../src/dm/table-text.js';
import { readSnapshot } from '../../src/snapshot/manifest.js';
import type { Platform } from '../../src/snapshot/platform.js';
import { snapshotStatus } from '../../src/snapshot/status.js';
import { UUID_PREFIX } from '../../src/state/names.js';
import { StateDir } from '../../src/state/state-dir.js';
import { findManifest } from '../../src/store/manifest.js';

/** An update's devices: none, or `snapstore-NAME` (snapshot, or snapshot-merge while merging) over its cow. */
function checkUpdateDevices(dm: DeviceMapperApi, state: string, name: string, ours: string[]): void {
  if (['active', 'rollback-pending', 'merging'].includes(state) && ours.length) {
    expect(ours).toEqual([`snapstore-${name}`, `snapstore-${name}-cow`]);
    expect(formatTable(dm.table(`snapstore-${name}`), dm.features())).toMatch(state === 'merging' ? / snapshot-merge / : / snapshot /);
    return;
  }
  if (!['active', 'rollback-pending', 'merging'].includes(state)) expect(['committed', 'discarded', 'rolled-back']).toContain(state);
  expect(ours).toEqual([]);
}

/** `origin`: a checkpoint's origin dm device and its own table (an update's origin is never loaded: not checked here). */
export function checkConsistent(o: { dm: DeviceMapperApi; platform?: Platform; stateDir: string; name: string; origin?: string; ownTable?: string }): void {
  const { dm, stateDir, name } = o;
  const dir = StateDir.need(stateDir);
  const m = readSnapshot(dir, name);
  const ours = dm
    .list(UUID_PREFIX)
    .map((d) => d.name)
    .filter((n) => n.startsWith(`snapstore-${name}-`) || n === `snapstore-${name}`)
    .sort();
  for (const d of dm.list()) expect(dm.info(d.name).suspended, `${d.name} suspended`).toBe(false);
  if (m.mode === 'update') {
    checkUpdateDevices(dm, m.state, name, ours);
    // An update's origin is never loaded: a dm origin keeps its own table all along.
    if (o.origin !== undefined) expect(formatTable(dm.table(o.origin), dm.features())).toBe(o.ownTable);
  } else checkCheckpointDevices(dm, m.state, name, ours, o.origin!, o.ownTable!);
  const storeWanted = ['active', 'rollback-pending', 'merging'].includes(m.state) || Boolean(m.keepStore) || Boolean(m.storePending);
  expect(findManifest(dir, name) !== undefined, `store of ${name} (${m.state})`).toBe(storeWanted);
  const [status] = snapshotStatus({ stateDir, name, ...(o.platform ? { platform: o.platform } : {}) });
  expect(status?.problems).toEqual([]);
}

function checkCheckpointDevices(dm: DeviceMapperApi, state: string, name: string, ours: string[], origin: string, ownTable: string): void {
  const table = formatTable(dm.table(origin), dm.features());
  switch (state) {
    case 'active':
    case 'rollback-pending':
      if (ours.length) {
        expect(ours).toEqual([`snapstore-${name}-cow`, `snapstore-${name}-real`, `snapstore-${name}-snap`]);
        expect(table).toMatch(/snapshot-origin/);
      } else expect(table).toBe(ownTable);
      break;
    case 'merging':
      if (ours.length) {
        expect(ours).toEqual([`snapstore-${name}-cow`, `snapstore-${name}-real`]);
        expect(table).toMatch(/snapshot-merge/);
      } else expect(table).toBe(ownTable);
      break;
    default:
      expect(['committed', 'discarded', 'rolled-back']).toContain(state);
      expect(ours).toEqual([]);
      expect(table).toBe(ownTable);
  }
}
