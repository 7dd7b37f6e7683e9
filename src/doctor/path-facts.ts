/**
 * What holds PATH: its filesystem (type, mount) and the block device beneath
 * it, as sysfs describes it. The checks of PATH take these facts, so they
 * are tested on canned ones.
 */
import * as fs from 'node:fs';
import { blockDeviceInfo, type BlockDeviceInfo } from '../linux/blockdev.js';
import { formatDeviceNumber, type DeviceNumber } from '../linux/device-number.js';
import { fromNodeError } from '../linux/errors.js';
import { statfsOf, type FsInfo } from '../linux/fs.js';
import { filesystemDevice, mountHolding, readMountInfo, type MountEntry } from '../linux/mountinfo.js';

export interface PathFacts {
  /** as given */
  readonly path: string;
  /** the filesystem's device (st_dev) */
  readonly dev: DeviceNumber;
  readonly fs: FsInfo;
  /** the mount that holds it, as mountinfo shows it */
  readonly mount: MountEntry | undefined;
  /** the block device beneath, or undefined where there is none (tmpfs, a network filesystem; btrfs's device number is its own) */
  readonly device: BlockDeviceInfo | undefined;
  /** how to name that device: /dev/mapper/NAME for a dm device (where the node is), else /dev/NAME */
  readonly node: string | undefined;
}

export function readPathFacts(given: string): PathFacts {
  let real: string;
  try {
    real = fs.realpathSync(given);
  } catch (err) {
    throw fromNodeError(err, 'realpath', given);
  }
  const dev = filesystemDevice(real);
  let device: BlockDeviceInfo | undefined;
  try {
    // Major 0 is the kernel's anonymous devices: no block device is behind them.
    device = dev.major === 0 ? undefined : blockDeviceInfo(dev);
  } catch {
    device = undefined;
  }
  const mapper = device?.dm ? `/dev/mapper/${device.dm.name}` : undefined;
  return {
    path: given,
    dev,
    fs: statfsOf(real),
    mount: mountHolding(readMountInfo(), dev, real),
    device,
    node: mapper && fs.existsSync(mapper) ? mapper : device?.node,
  };
}

/** The device beneath, for messages: its node, what it is over (a loop's file), its number. */
export function deviceLabel(f: PathFacts): string {
  if (!f.device) return `no block device (${formatDeviceNumber(f.dev)})`;
  const over = f.device.loopBackingFile ? `, over ${f.device.loopBackingFile}` : '';
  return `${f.node ?? f.device.node} (${formatDeviceNumber(f.dev)}${over})`;
}
