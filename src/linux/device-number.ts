/**
 * A block device number (major:minor), as the kernel and dm tables write it.
 * glibc's dev_t encoding (sys/sysmacros.h) splits both numbers across the
 * 64-bit value.
 */
import { SnapstoreError } from '../errors.js';

export interface DeviceNumber {
  readonly major: number;
  readonly minor: number;
}

export function deviceNumber(major: number, minor: number): DeviceNumber {
  if (!Number.isInteger(major) || major < 0 || major > 0xfff || !Number.isInteger(minor) || minor < 0 || minor > 0xfffff) {
    throw new SnapstoreError('BAD_VALUE', `device number ${major}:${minor} is out of range (major 0..4095, minor 0..1048575)`);
  }
  return { major, minor };
}

export function fromDevT(dev: bigint | number): DeviceNumber {
  const d = BigInt(dev);
  const major = Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
  const minor = Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
  return deviceNumber(major, minor);
}

export function formatDeviceNumber(dev: DeviceNumber): string {
  return `${dev.major}:${dev.minor}`;
}

export function parseDeviceNumber(text: string): DeviceNumber {
  const m = /^(\d+):(\d+)$/.exec(text.trim());
  if (!m) throw new SnapstoreError('BAD_VALUE', `"${text}" is not a device number (major:minor)`);
  return deviceNumber(Number(m[1]), Number(m[2]));
}

export function sameDevice(a: DeviceNumber, b: DeviceNumber): boolean {
  return a.major === b.major && a.minor === b.minor;
}
