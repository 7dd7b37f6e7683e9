/**
 * /proc/self/mountinfo (proc(5)): which device each mount sits on. Used to
 * explain EBUSY ("mounted at /data") and to refuse work on mounted devices.
 */
import * as fs from 'node:fs';
import { fromDevT, parseDeviceNumber, sameDevice, type DeviceNumber } from './device-number.js';
import { fromNodeError } from './errors.js';

export interface MountEntry {
  readonly dev: DeviceNumber;
  /** The folder of the filesystem this mount shows ('/': all of it; a bind of a folder shows that folder), escapes decoded. */
  readonly root: string;
  /** Where it is mounted, with the kernel's octal escapes (\040) decoded. */
  readonly mountPoint: string;
  readonly fsType: string;
  readonly source: string;
}

const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Parses mountinfo text; lines that do not have the documented shape are skipped. */
export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    // id parent maj:min root mountpoint options [optional...] - fstype source superopts
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const f = left.split(' ');
    const r = right.split(' ');
    if (f.length < 6 || r.length < 2) continue;
    let dev: DeviceNumber;
    try {
      dev = parseDeviceNumber(f[2] ?? '');
    } catch {
      continue;
    }
    out.push({ dev, root: unescape(f[3] ?? ''), mountPoint: unescape(f[4] ?? ''), fsType: r[0] ?? '', source: unescape(r[1] ?? '') });
  }
  return out;
}

export function readMountInfo(file = '/proc/self/mountinfo'): MountEntry[] {
  return parseMountInfo(fs.readFileSync(file, 'utf8'));
}

/** Mount points of a device (empty when unmounted or unreadable). */
export function mountsOf(dev: DeviceNumber): MountEntry[] {
  try {
    return readMountInfo().filter((m) => sameDevice(m.dev, dev));
  } catch {
    return [];
  }
}

/**
 * The mount that holds the resolved path `real` on device `dev`: of that
 * device's mounts, the deepest mount point at or above it (a device mounted
 * twice, or bind-mounted, has several).
 */
export function mountHolding(entries: readonly MountEntry[], dev: DeviceNumber, real: string): MountEntry | undefined {
  return entries
    .filter((e) => sameDevice(e.dev, dev) && (real === e.mountPoint || real.startsWith(e.mountPoint.endsWith('/') ? e.mountPoint : `${e.mountPoint}/`)))
    .sort((a, b) => b.mountPoint.length - a.mountPoint.length)[0];
}

/** The device of the filesystem that holds `path` (its st_dev). */
export function filesystemDevice(path: string): DeviceNumber {
  try {
    return fromDevT(fs.statSync(path, { bigint: true }).dev);
  } catch (err) {
    throw fromNodeError(err, 'stat', path);
  }
}

/** The mount that holds `path` on the running system, or undefined when mountinfo does not show it. */
export function mountOfPath(path: string): MountEntry | undefined {
  const real = fs.realpathSync(path);
  return mountHolding(readMountInfo(), filesystemDevice(real), real);
}
