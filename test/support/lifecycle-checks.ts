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

export function checkConsistent(o: { dm: DeviceMapperApi; platform?: Platform; stateDir: string; name: string; origin: string; ownTable: string }): void {
  const { dm, stateDir, name, origin } = o;
  const dir = StateDir.need(stateDir);
  const m = readSnapshot(dir, name);
  const ours = dm
    .list(UUID_PREFIX)
    .map((d) => d.name)
    .filter((n) => n.startsWith(`snapstore-${name}-`))
    .sort();
  for (const d of dm.list()) expect(dm.info(d.name).suspended, `${d.name} suspended`).toBe(false);
  const table = formatTable(dm.table(origin), dm.features());
  switch (m.state) {
    case 'active':
    case 'rollback-pending':
      if (ours.length) {
        expect(ours).toEqual([`snapstore-${name}-cow`, `snapstore-${name}-real`, `snapstore-${name}-snap`]);
        expect(table).toMatch(/snapshot-origin/);
      } else expect(table).toBe(o.ownTable);
      break;
    case 'merging':
      if (ours.length) {
        expect(ours).toEqual([`snapstore-${name}-cow`, `snapstore-${name}-real`]);
        expect(table).toMatch(/snapshot-merge/);
      } else expect(table).toBe(o.ownTable);
      break;
    default:
      expect(['committed', 'discarded', 'rolled-back']).toContain(m.state);
      expect(ours).toEqual([]);
      expect(table).toBe(o.ownTable);
  }
  const storeWanted = ['active', 'rollback-pending', 'merging'].includes(m.state) || Boolean(m.keepStore) || Boolean(m.storePending);
  expect(findManifest(dir, name) !== undefined, `store of ${name} (${m.state})`).toBe(storeWanted);
  const [status] = snapshotStatus({ stateDir, name, ...(o.platform ? { platform: o.platform } : {}) });
  expect(status?.problems).toEqual([]);
}
