/**
 * A block device number as device-mapper speaks it: `maj:min` in table text,
 * a "huge" encoded u64 in the ioctl structures (`include/linux/kdev_t.h`
 * huge_encode_dev / new_encode_dev: minor bits 0-7, major bits 8-19, minor
 * bits 8-19 above them). One type for both, so a table never carries a path
 * or a bare number where the kernel expects `maj:min`.
 */

export interface DeviceNumber {
  readonly major: number;
  readonly minor: number;
}

/** The kernel's MAJOR/MINOR limits (12 and 20 bits, `include/linux/kdev_t.h`). */
const MAX_MAJOR = 0xfff;
const MAX_MINOR = 0xfffff;

export class DeviceNumberError extends RangeError {
  override name = 'DeviceNumberError';
}

export function deviceNumber(major: number, minor: number): DeviceNumber {
  if (!Number.isInteger(major) || major < 0 || major > MAX_MAJOR) {
    throw new DeviceNumberError(`major ${major} is not between 0 and ${MAX_MAJOR}`);
  }
  if (!Number.isInteger(minor) || minor < 0 || minor > MAX_MINOR) {
    throw new DeviceNumberError(`minor ${minor} is not between 0 and ${MAX_MINOR}`);
  }
  return { major, minor };
}

/** `253:4`, as dm tables and /proc/self/mountinfo write it. */
export function formatDeviceNumber(dev: DeviceNumber): string {
  return `${dev.major}:${dev.minor}`;
}

export function parseDeviceNumber(text: string): DeviceNumber {
  const m = /^(\d{1,4}):(\d{1,7})$/.exec(text);
  if (!m) throw new DeviceNumberError(`"${text}" is not a device number of the form major:minor`);
  return deviceNumber(Number(m[1]), Number(m[2]));
}

export function sameDevice(a: DeviceNumber, b: DeviceNumber): boolean {
  return a.major === b.major && a.minor === b.minor;
}

/** Decodes the u64 `dev` of dm_ioctl, dm_name_list and dm_target_deps. */
export function decodeHugeDev(raw: bigint): DeviceNumber {
  if (raw >> 32n !== 0n) throw new DeviceNumberError(`device number 0x${raw.toString(16)} has bits above 32 set`);
  const v = Number(raw);
  return deviceNumber((v & 0xfff00) >>> 8, (v & 0xff) | ((v >>> 12) & 0xfff00));
}

export function encodeHugeDev(dev: DeviceNumber): bigint {
  return BigInt(((dev.minor & 0xff) | (dev.major << 8) | ((dev.minor & ~0xff) << 12)) >>> 0);
}

/** glibc's makedev(3) (`sysdeps/unix/sysv/linux/makedev.c`), for mknod(2). */
export function encodeUserDev(dev: DeviceNumber): bigint {
  const major = BigInt(dev.major);
  const minor = BigInt(dev.minor);
  return ((major & 0xfffff000n) << 32n) | ((major & 0xfffn) << 8n) | ((minor & 0xffffff00n) << 12n) | (minor & 0xffn);
}
