/**
 * /dev/mapper/<name> nodes. Where udev runs, its dm rules make the node
 * (a symlink to ../dm-N) after the device is resumed: we wait for it. Where
 * it does not (early boot, the test VM, DM_DISABLE_UDEV=1 as for dmsetup),
 * we mknod a block node ourselves, and remove it with the device. A node
 * is ours to remove when it is a block device node (not udev's symlink)
 * with the removed device's number: that is what we (or dmsetup without
 * udev) made, and it is stale once the device is gone.
 */
import * as fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fromDevT, sameDevice, type DeviceNumber } from '../linux/device-number.js';
import { fromNodeError, SyscallError } from '../linux/errors.js';
import { mknodBlock } from '../linux/mknod.js';

export const MAPPER_DIR = '/dev/mapper';

export const nodePath = (name: string): string => `${MAPPER_DIR}/${name}`;

/** udev manages /dev/mapper when its control socket exists, unless disabled as dmsetup allows. */
export function udevRunning(): boolean {
  return !process.env['DM_DISABLE_UDEV'] && fs.existsSync('/run/udev/control');
}

function blockNodeDevice(path: string, follow: boolean): DeviceNumber | null | undefined {
  let st: fs.Stats;
  try {
    st = follow ? fs.statSync(path) : fs.lstatSync(path);
  } catch {
    return undefined; // missing
  }
  return st.isBlockDevice() ? fromDevT(st.rdev) : null;
}

/** Makes our own node, replacing a stale block node of an earlier device. */
function makeNode(name: string, dev: DeviceNumber): void {
  const path = nodePath(name);
  fs.mkdirSync(MAPPER_DIR, { recursive: true, mode: 0o755 });
  const old = blockNodeDevice(path, false);
  if (old) fs.unlinkSync(path); // a block node for another device: stale
  else if (old === null) throw new SyscallError('mknod', 17 /* EEXIST */, path, 'something that is not a block device node is in the way');
  mknodBlock(path, dev);
}

/**
 * Ensures /dev/mapper/<name> opens device `dev`. With udev, waits up to
 * `udevWaitMs` for udev's node first and makes its own only if none came.
 */
export async function ensureNode(name: string, dev: DeviceNumber, udevWaitMs = 2000): Promise<void> {
  const path = nodePath(name);
  const have = () => {
    const d = blockNodeDevice(path, true);
    return d ? sameDevice(d, dev) : false;
  };
  if (have()) return;
  if (udevRunning()) {
    for (let waited = 0; waited < udevWaitMs; waited += 20) {
      await sleep(20);
      if (have()) return;
    }
  }
  makeNode(name, dev);
}

/** The same without waiting for udev: for a device that is not resumed yet. */
export function ensureNodeNow(name: string, dev: DeviceNumber): void {
  const d = blockNodeDevice(nodePath(name), true);
  if (d && sameDevice(d, dev)) return;
  makeNode(name, dev);
}

/** Removes /dev/mapper/<name> if it is a block node for `dev` (see above); true if removed. */
export function removeNode(name: string, dev: DeviceNumber): boolean {
  const path = nodePath(name);
  const d = blockNodeDevice(path, false);
  if (!d || !sameDevice(d, dev)) return false;
  try {
    fs.unlinkSync(path);
    return true;
  } catch (e) {
    throw fromNodeError(e, 'unlink', path);
  }
}
