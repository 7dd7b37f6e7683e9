/**
 * The steps that build and take down a snapshot's devices. Each checks what
 * the kernel has and does only what is missing, so a rerun after a crash
 * finishes the job. Every table is built before anything is suspended.
 */
import type { DeviceInfo } from '../dm/api.js';
import { formatTable } from '../dm/table-text.js';
import type { Target } from '../dm/targets.js';
import { SnapstoreError } from '../errors.js';
import type { StoreManifest } from '../store/manifest.js';
import { chunkSize, formatBytes, sectorsToBytes } from '../units/units.js';
import type { Operation } from './context.js';
import { dropUpdateStack } from './update-stack.js';
import { cowTable, grownFrom, inspectStack, mergeTable, originTable, snapTable, stackNames, stackUuids, tableSectors, type StackState } from './stack.js';

const same = (op: Operation, a: readonly Target[], b: readonly Target[]): boolean => formatTable(a, op.dm.features()) === formatTable(b, op.dm.features());

/** The origin's own table: its live table when plain, else what our `real` device holds. */
export function ownTable(op: Operation, s: StackState): Target[] {
  if (s.originKind === 'plain') return s.originTable;
  if (!s.real) {
    throw new SnapstoreError('STACK_MISMATCH', `${op.originDm} carries a snapshot table, but ${stackNames(op.name).real} (its own table) is not there`, {
      hint: 'look at `dmsetup table`; this state was not made by snapstore',
    });
  }
  return op.dm.table(stackNames(op.name).real);
}

/** `real` with the origin's own table, made if missing (an existing one must hold that table). */
export async function ensureReal(op: Operation, table: readonly Target[]): Promise<DeviceInfo> {
  const n = stackNames(op.name);
  const have = op.dm.find(n.real);
  if (have) {
    if (!same(op, op.dm.table(n.real), table)) {
      throw new SnapstoreError('STACK_MISMATCH', `${n.real} exists but does not hold ${op.originDm}'s table`, { hint: '`snapstore recover` removes a half-built stack' });
    }
    return have;
  }
  op.say(`moving ${op.originDm}'s table to ${n.real}`);
  return op.dm.createDevice(n.real, stackUuids(op.name).real, table);
}

/**
 * `cow`, the store as a block device: over `real` when the store is on the
 * origin's filesystem (a checkpoint), else through the store's filesystem's
 * dm device (an update's store is always on another filesystem).
 */
export async function ensureCow(op: Operation, store: StoreManifest, real?: DeviceInfo): Promise<DeviceInfo> {
  const n = stackNames(op.name);
  const table = cowTable(op.dm, store, real ? { dmName: op.originDm, real: real.dev, ...(op.manifest.beneath ? { beneath: op.manifest.beneath } : {}) } : undefined);
  const have = op.dm.find(n.cow);
  if (have) {
    const now = op.dm.table(n.cow);
    if (same(op, now, table)) return have;
    if (!grownFrom(now, table)) throw new SnapstoreError('STACK_MISMATCH', `${n.cow} exists but does not map the store as its manifest says`, { hint: '`snapstore recover` removes a half-built stack' });
    // The manifest grew (extend): the new segments are mapped under one short suspend; the snapshot sees the size live.
    op.say(`growing ${n.cow} from ${formatBytes(sectorsToBytes(tableSectors(now)))} to ${formatBytes(sectorsToBytes(tableSectors(table)))} (${table.length} segment${table.length === 1 ? '' : 's'})`);
    await op.suspended(n.cow, () => {
      op.dm.load(n.cow, table);
      op.dm.resume(n.cow);
    });
    return op.dm.info(n.cow);
  }
  op.say(`mapping store "${store.name}" as ${n.cow} (${table.length} segment${table.length === 1 ? '' : 's'})`);
  return op.dm.createDevice(n.cow, stackUuids(op.name).cow, table);
}

/**
 * The snapshot made live: under one suspend of the origin (lockfs: its
 * filesystem is frozen and flushed), the origin's table becomes
 * snapshot-origin over `real` and the snapshot is created; the origin is
 * resumed only then, after the snapshot is live (an origin resumed first
 * does not split writes at the snapshot's chunk size: docs/design.md
 * "Order of loading").
 */
export async function attachSnapshot(op: Operation, real: DeviceInfo, cow: DeviceInfo): Promise<void> {
  const n = stackNames(op.name);
  const d = op.originDm;
  const length = tableSectors(op.dm.table(n.real));
  const chunk = chunkSize(op.manifest.chunkSize);
  const origin = originTable(length, real.dev);
  const snap = snapTable(length, real.dev, cow.dev, chunk);
  op.say(`suspending ${d}, loading snapshot-origin over ${n.real}, creating ${n.snap}, resuming ${d}`);
  const attach = () =>
    op.suspended(d, async () => {
      op.dm.load(d, origin);
      if (!op.dm.find(n.snap)) await op.dm.createDevice(n.snap, stackUuids(op.name).snap, snap);
      op.dm.resume(d);
    });
  // Beneath a crypt layer, its filesystem is frozen first (suspended with lockfs), as a stack is suspended top down.
  const crypt = op.manifest.beneath?.crypt;
  if (crypt !== undefined && op.dm.find(crypt)) await op.suspended(crypt, async () => (await attach(), op.dm.resume(crypt)));
  else await attach();
}

/**
 * The origin carries `snapshot-merge`, as LVM merges: it can be mounted at
 * once and shows the old contents while the kernel merges underneath. The
 * snapshot device goes first (a merge and a snapshot cannot share a store).
 */
export async function attachMerge(op: Operation, real: DeviceInfo, cow: DeviceInfo): Promise<void> {
  const n = stackNames(op.name);
  const d = op.originDm;
  const table = mergeTable(tableSectors(op.dm.table(n.real)), real.dev, cow.dev, chunkSize(op.manifest.chunkSize));
  if (op.dm.find(n.snap)) {
    op.say(`removing ${n.snap}`);
    await op.dm.remove(n.snap);
  }
  op.say(`loading snapshot-merge on ${d}: it shows the old contents at once, the kernel merges underneath`);
  await op.suspended(d, async () => {
    op.dm.load(d, table);
    op.dm.resume(d);
  });
}

/** The origin back on its own table, and our devices gone (whatever of them is there). */
export async function dropStack(op: Operation): Promise<string[]> {
  if (op.manifest.mode === 'update') return dropUpdateStack(op);
  const n = stackNames(op.name);
  const d = op.originDm;
  const done: string[] = [];
  const s = inspectStack(op.dm, op.name, d);
  if (s.origin?.suspended && s.originKind === 'plain') {
    op.dm.resume(d);
    done.push(`resumed ${d}`);
  }
  if (s.originKind === 'origin' || s.originKind === 'merge') {
    const own = ownTable(op, s);
    op.say(`loading ${d}'s own table again`);
    await op.suspended(d, async () => {
      op.dm.load(d, own);
      op.dm.resume(d);
    });
    done.push(`${d} back on its own table`);
  } else if (s.originKind === 'foreign') {
    throw new SnapstoreError('STACK_MISMATCH', `${d} carries a snapshot table that is not ours; nothing was removed`, { hint: 'look at `dmsetup table`' });
  }
  for (const dev of [n.snap, n.cow, n.real]) {
    const info = op.dm.find(dev);
    if (!info) continue;
    if (info.suspended) op.dm.resume(dev);
    await op.dm.remove(dev);
    done.push(`removed ${dev}`);
  }
  return done;
}
