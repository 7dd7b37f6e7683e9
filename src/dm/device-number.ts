/**
 * The "huge" device number encoding of the dm ioctl structures (dm_ioctl.dev,
 * dm_name_list.dev, dm_target_deps.dev): `include/linux/kdev_t.h`
 * huge_encode_dev / new_encode_dev, minor bits 0-7, major bits 8-19, minor
 * bits 8-19 above them, in a u64 whose upper half is zero.
 */
import { SnapstoreError } from '../errors.js';
import { deviceNumber, type DeviceNumber } from '../linux/device-number.js';

export function decodeHugeDev(raw: bigint): DeviceNumber {
  if (raw >> 32n !== 0n) throw new SnapstoreError('DM_ABI', `device number 0x${raw.toString(16)} has bits above 32 set`);
  const v = Number(raw);
  return deviceNumber((v & 0xfff00) >>> 8, (v & 0xff) | ((v >>> 12) & 0xfff00));
}

export function encodeHugeDev(dev: DeviceNumber): bigint {
  return BigInt(((dev.minor & 0xff) | (dev.major << 8) | ((dev.minor & ~0xff) << 12)) >>> 0);
}
