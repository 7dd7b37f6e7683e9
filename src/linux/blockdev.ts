/**
 * Block-device queries: sizes through ioctls (include/uapi/linux/fs.h) and
 * identity through sysfs (/sys/dev/block/MAJ:MIN).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SnapstoreError } from '../errors.js';
import type { Bytes } from '../units/units.js';
import { bytes } from '../units/units.js';
import type { DeviceNumber } from './device-number.js';
import { formatDeviceNumber, parseDeviceNumber } from './device-number.js';
import { IO, IOR, ioctl } from './ioctl.js';

const BLKSSZGET = IO(0x12, 104);
const BLKGETSIZE64 = IOR(0x12, 114, 8);

export function blockDeviceSize(fd: number, what: string): Bytes {
  const buf = Buffer.alloc(8);
  ioctl(fd, BLKGETSIZE64, buf, 'ioctl(BLKGETSIZE64)', what);
  return bytes(buf.readBigUInt64LE(0));
}

export function logicalBlockSize(fd: number, what: string): Bytes {
  const buf = Buffer.alloc(8);
  ioctl(fd, BLKSSZGET, buf, 'ioctl(BLKSSZGET)', what);
  return bytes(buf.readInt32LE(0));
}

/** What sysfs tells about one block device. */
export interface BlockDeviceInfo {
  readonly dev: DeviceNumber;
  /** kernel name: sda3, dm-2, loop0, vda */
  readonly name: string;
  /** /dev/<name> (devtmpfs names it so whether or not udev runs) */
  readonly node: string;
  readonly isPartition: boolean;
  /** the whole disk a partition belongs to */
  readonly parent: string | undefined;
  readonly dm: { readonly name: string; readonly uuid: string } | undefined;
  /** loop devices: the file behind them */
  readonly loopBackingFile: string | undefined;
  readonly size: Bytes;
  /** kernel names of the devices stacked on this one */
  readonly holders: readonly string[];
  /** kernel names of the devices this one is stacked on */
  readonly slaves: readonly string[];
}

const SYS_DEV_BLOCK = '/sys/dev/block';

function readTrim(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}

export function blockDeviceInfo(dev: DeviceNumber): BlockDeviceInfo {
  const link = path.join(SYS_DEV_BLOCK, formatDeviceNumber(dev));
  let real: string;
  try {
    real = fs.realpathSync(link);
  } catch {
    throw new SnapstoreError('NO_BLOCK_DEVICE', `there is no block device ${formatDeviceNumber(dev)} (nothing in ${SYS_DEV_BLOCK})`, {
      hint: 'it was removed meanwhile, or the number is wrong: lsblk lists the devices',
    });
  }
  const name = path.basename(real);
  const isPartition = fs.existsSync(path.join(real, 'partition'));
  const dmName = readTrim(path.join(real, 'dm', 'name'));
  const sectorsText = readTrim(path.join(real, 'size')) ?? '0';
  return {
    dev,
    name,
    node: `/dev/${name}`,
    isPartition,
    parent: isPartition ? path.basename(path.dirname(real)) : undefined,
    dm: dmName === undefined ? undefined : { name: dmName, uuid: readTrim(path.join(real, 'dm', 'uuid')) ?? '' },
    loopBackingFile: readTrim(path.join(real, 'loop', 'backing_file')),
    size: bytes(BigInt(sectorsText) * 512n),
    holders: listDir(path.join(real, 'holders')),
    slaves: listDir(path.join(real, 'slaves')),
  };
}

/** The device number of a kernel block device name (dm-3, sda1). */
export function deviceNumberOfName(name: string): DeviceNumber {
  const text = readTrim(path.join('/sys/class/block', name, 'dev'));
  if (text === undefined) {
    throw new SnapstoreError('NO_BLOCK_DEVICE', `there is no block device named ${name} (nothing in /sys/class/block)`, { hint: 'lsblk lists the devices' });
  }
  return parseDeviceNumber(text);
}
