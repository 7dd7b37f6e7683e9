/**
 * A checkpoint's two views of its filesystem, mounted read-only for the
 * while: the contents before the update (the snapshot device) and now (the
 * origin). `diff` compares them.
 *
 * The old view is read through a device of its own, `snapstore-NAME-view`: a
 * `linear` over the snapshot device, made read-only in device-mapper. A
 * write to the snapshot device would land in the store and be merged back by
 * a rollback; through the view device the block layer refuses any, whatever
 * the filesystem tries. The new view is the origin's own mount bound
 * read-only (that mount alone: what lies under a mount point below it shows),
 * or, when nothing mounts the origin, the origin mounted read-only.
 * Everything is made in a root-only temporary folder and registered on the
 * caller's undo stack as it is made.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DeviceInfo } from '../dm/api.js';
import { nodePath } from '../dm/nodes.js';
import { parseSnapshotStatus } from '../dm/status.js';
import { LinearTarget } from '../dm/targets.js';
import { SnapstoreError } from '../errors.js';
import { formatDeviceNumber, type DeviceNumber } from '../linux/device-number.js';
import { bindReadOnly, mountReadOnly, READ_ONLY_OPTIONS, unmount } from '../linux/mount.js';
import { mountsOf } from '../linux/mountinfo.js';
import { dmName, dmUuid } from '../state/names.js';
import { sectors } from '../units/units.js';
import type { UndoStack } from '../util/undo.js';
import type { SnapshotManifest } from './manifest.js';
import type { Platform } from './platform.js';
import { inspectStack, stackNames, tableSectors, type StackState } from './stack.js';

export const viewDevice = (name: string): string => dmName(name, 'view');

export interface CheckpointViews {
  /** the mounted contents before the update */
  readonly old: string;
  /** the mounted contents now */
  readonly new: string;
  readonly fsType: string;
  /** the snapshot device the old view is read from */
  readonly snapshotDevice: string;
  /** the origin's device, and where it is mounted (null: it was mounted here for the while) */
  readonly origin: { readonly device: string; readonly mountedAt: string | null };
}

/**
 * Why the checkpoint has no old view to mount now, or undefined when it has
 * one: only a live checkpoint (active, or with a rollback pending) whose
 * snapshot the kernel still holds valid.
 */
export function oldViewRefusal(m: SnapshotManifest, stack: StackState | undefined, snapStatus: string | undefined): SnapstoreError | undefined {
  const name = m.name;
  if (m.mode === 'update') {
    return new SnapstoreError('BAD_STATE', `"${name}" is an update-mode snapshot: the update is written into /dev/mapper/${dmName(name, 'update')} and the origin keeps the old contents; diff compares a checkpoint's contents before the update with its origin`, {
      hint: `mount both read-only and compare them (mount -o ro ...; diff -r), or run \`snapstore diff\` on a checkpoint`,
    });
  }
  if (m.invalid) return invalid(name);
  if (m.state === 'merging') {
    return new SnapstoreError('BAD_STATE', `"${name}" is rolling back: its old contents are being merged into ${m.origin.dmName}, which shows them already; there is no second view to compare`, {
      hint: `\`snapstore status ${name}\` shows the merge`,
    });
  }
  if (m.state === 'committed' || m.state === 'rolled-back' || m.state === 'discarded') {
    return new SnapstoreError('BAD_STATE', `"${name}" is ${m.state}: its snapshot is gone, and with it the contents before the update`, { hint: '`snapstore list` shows the live checkpoints' });
  }
  if (m.state !== 'active' && m.state !== 'rollback-pending') {
    return new SnapstoreError('BAD_STATE', `"${name}" is ${m.state}, a step that did not finish`, { hint: '`snapstore recover` finishes it; `snapstore status` says where it stands' });
  }
  if (m.beneath !== undefined) {
    return new SnapstoreError('ORIGIN_UNSUPPORTED', `"${name}" lies beneath the crypt layer ${m.beneath.crypt}: its snapshot holds ciphertext, which only the crypt layer's key reads`, {
      hint: 'nothing was mounted; diff reads checkpoints taken above a crypt layer or of a plain filesystem',
    });
  }
  if (stack === undefined || stack.originKind !== 'origin' || stack.snap === undefined) {
    return new SnapstoreError('BAD_STATE', `"${name}" is ${m.state} but its devices are not built (${stackNames(name).snap} is ${stack?.snap ? 'there, its origin not' : 'not there'})`, {
      hint: '`snapstore activate` builds them (at boot, before the filesystem is mounted); `snapstore status` says what the kernel has',
    });
  }
  const status = snapStatus === undefined ? undefined : parseSnapshotStatus(snapStatus);
  if (status?.state === 'invalid' || status?.state === 'overflow') return invalid(name);
  return undefined;
}

const invalid = (name: string) =>
  new SnapstoreError('SNAPSHOT_INVALID', `the kernel invalidated the snapshot of "${name}" (its store filled, or an I/O error): the contents before the update are lost`, {
    hint: `\`snapstore commit ${name}\` cleans it up; nothing can roll it back`,
  });

/** Mounts both views of checkpoint `m` read-only, each step pushed on `undo`; `log` narrates what is made. */
export async function mountViews(platform: Platform, m: SnapshotManifest, undo: UndoStack, log: (line: string) => void): Promise<CheckpointViews> {
  const dm = platform.dm;
  const n = stackNames(m.name);
  const stack = m.origin.dmName === undefined ? undefined : inspectStack(dm, m.name, m.origin.dmName);
  const refusal = oldViewRefusal(m, stack, stack?.snap ? dm.status(n.snap)[0]?.params : undefined);
  if (refusal) throw refusal;
  const view = await makeViewDevice(platform, m.name, stack!.snap!.dev, undo, log);
  const fsType = (await platform.describeDevice(view.dev)).fsType;
  if (fsType === undefined || READ_ONLY_OPTIONS[fsType] === undefined) {
    throw new SnapstoreError('READ_ONLY_UNSUPPORTED', `${n.snap} holds ${fsType ?? 'no filesystem blkid knows'}: diff mounts ext4 and xfs read-only without writing to them, nothing else`, {
      hint: "look at the snapshot device with the filesystem's own read-only tools",
    });
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `snapstore-diff-${m.name}-`)); // mode 0700: private to root
  undo.push(`the folder ${dir}`, () => fs.rmdirSync(dir));
  const oldAt = mountPoint(dir, 'old', undo);
  mountReadOnly(nodePath(view.name), oldAt, fsType);
  undo.push(`the mount of ${view.name} at ${oldAt}`, () => void unmount(oldAt));
  log(`mounted ${view.name} (${fsType}, read-only, ${READ_ONLY_OPTIONS[fsType]}) at ${oldAt}`);
  const newAt = mountPoint(dir, 'new', undo);
  const origin = mountOrigin(nodePath(m.origin.dmName!), stack!.origin!.dev, fsType, newAt, log);
  undo.push(`the mount of ${origin.device} at ${newAt}`, () => void unmount(newAt));
  return { old: oldAt, new: newAt, fsType, snapshotDevice: nodePath(n.snap), origin };
}

/** `snapstore-NAME-view`: a linear over the snapshot device, read-only in device-mapper. */
async function makeViewDevice(platform: Platform, name: string, snap: DeviceNumber, undo: UndoStack, log: (line: string) => void): Promise<DeviceInfo> {
  const dm = platform.dm;
  const view = viewDevice(name);
  const snapName = stackNames(name).snap;
  await removeLeftoverView(platform, view);
  const info = await dm.createDevice(view, dmUuid(name, 'view'), [new LinearTarget(tableSectors(dm.table(snapName)), snap, sectors(0))], { readOnly: true });
  undo.push(`dm device ${view}`, () => dm.remove(view));
  log(`made ${view}, read-only, over ${snapName}`);
  return info;
}

/**
 * The origin's contents now at `at`: its mount that shows all of it, bound
 * read-only; or, when nothing mounts it, the origin mounted read-only.
 */
function mountOrigin(device: string, dev: DeviceNumber, fsType: string, at: string, log: (line: string) => void): CheckpointViews['origin'] {
  const mounts = mountsOf(dev);
  const whole = mounts.find((e) => e.root === '/');
  if (whole) {
    bindReadOnly(whole.mountPoint, at);
    log(`bound ${whole.mountPoint} (${device}) read-only at ${at}`);
    return { device, mountedAt: whole.mountPoint };
  }
  if (mounts.length > 0) {
    throw new SnapstoreError('ORIGIN_MOUNTED', `${device} (${formatDeviceNumber(dev)}) is mounted only as a folder of its filesystem (${mounts.map((e) => `${e.root} at ${e.mountPoint}`).join(', ')}): the whole of it cannot be seen, nor mounted again read-only while it is mounted writable`, {
      hint: `mount all of it somewhere (mount ${device} /mnt), then run diff again`,
    });
  }
  mountReadOnly(device, at, fsType);
  log(`mounted ${device} (${fsType}, read-only) at ${at}: nothing had it mounted`);
  return { device, mountedAt: null };
}

/** An empty folder in `dir`, removed again by the undo stack. */
function mountPoint(dir: string, name: string, undo: UndoStack): string {
  const at = path.join(dir, name);
  fs.mkdirSync(at, { mode: 0o700 });
  undo.push(`the folder ${at}`, () => fs.rmdirSync(at));
  return at;
}

/** A view device left by a diff that was killed is removed; one in use means a diff runs (or a killed one left its mount). */
async function removeLeftoverView(platform: Platform, view: string): Promise<void> {
  const left = platform.dm.find(view);
  if (left === undefined) return;
  if (left.openCount > 0) {
    const at = mountsOf(left.dev).map((e) => e.mountPoint);
    throw new SnapstoreError('DIFF_BUSY', `${view} is in use${at.length ? `, mounted at ${at.join(', ')}` : ''}: another diff of this snapshot runs, or one that was killed left its view mounted`, {
      hint: `wait for the other diff; if none runs: ${at.length ? `umount ${at.join(' ')}; ` : ''}dmsetup remove ${view}`,
    });
  }
  await platform.dm.remove(view);
}
