/**
 * Facts gathered after a dm ioctl failed, to turn an errno into a message:
 * the kernel log's last device-mapper line, mounts and holders of a device,
 * and our own check of a refused table. Best effort: each returns undefined
 * or [] when it cannot tell, never throws.
 */
import * as fs from 'node:fs';
import { blockDeviceInfo } from '../linux/blockdev.js';
import { formatDeviceNumber, parseDeviceNumber, type DeviceNumber } from '../linux/device-number.js';
import { mountsOf } from '../linux/mountinfo.js';
import { bytesToSectors } from '../units/units.js';
import type { TargetSpec } from './abi.js';

/** Records read from /dev/kmsg at most: the ring buffer holds a few thousand. */
const KMSG_MAX_RECORDS = 100_000;

/**
 * The last kernel log line from device-mapper (dm-ioctl.c DMERR and the
 * targets' ti->error texts are printed as "device-mapper: ..."). Reads
 * /dev/kmsg without blocking; each read returns one record
 * "prio,seq,usec,flags;text".
 */
export function lastDmKernelMessage(): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync('/dev/kmsg', fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  const buf = Buffer.alloc(8192);
  let last: string | undefined;
  try {
    for (let i = 0; i < KMSG_MAX_RECORDS; i++) {
      let n: number;
      try {
        n = fs.readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        // EPIPE: records were overwritten while reading; keep going. EAGAIN: the end.
        if ((e as NodeJS.ErrnoException).code === 'EPIPE') continue;
        break;
      }
      if (n <= 0) break;
      const rec = buf.toString('utf8', 0, n);
      const text = rec.slice(rec.indexOf(';') + 1).split('\n')[0] ?? '';
      if (text.startsWith('device-mapper:')) last = text;
    }
  } finally {
    fs.closeSync(fd);
  }
  return last;
}

/** "254:0 (vda) on /data" for each mount of the device. */
export function describeMounts(dev: DeviceNumber): string[] {
  return mountsOf(dev).map((m) => `${formatDeviceNumber(dev)} on ${m.mountPoint}`);
}

/** Names of devices stacked on this one (dm names where known). */
export function holdersOf(dev: DeviceNumber): string[] {
  try {
    return blockDeviceInfo(dev).holders.map((kname) => {
      try {
        return fs.readFileSync(`/sys/block/${kname}/dm/name`, 'utf8').trim() || kname;
      } catch {
        return kname;
      }
    });
  } catch {
    return [];
  }
}

/** Devices named in a parameter string (every maj:min word). */
export function devicesInParams(params: string): DeviceNumber[] {
  const out: DeviceNumber[] = [];
  for (const w of params.split(/\s+/)) {
    if (!/^\d+:\d+$/.test(w)) continue;
    try {
      out.push(parseDeviceNumber(w));
    } catch {
      // not a device number after all
    }
  }
  return out;
}

/**
 * Our own reading of a table the kernel refused: target types it does not
 * know, and linear/flakey segments that run past the end of their device
 * (the first one found, by index, so the user can find it in the table).
 */
export function findTableProblem(specs: readonly TargetSpec[], knownTypes: ReadonlySet<string> | undefined): string | undefined {
  if (knownTypes) {
    const unknown = [...new Set(specs.map((s) => s.type))].filter((t) => !knownTypes.has(t));
    if (unknown.length > 0) return `target type ${unknown.map((t) => `"${t}"`).join(', ')} is not loaded in this kernel (no dm-${unknown[0]} module?)`;
  }
  const sizes = new Map<string, number | undefined>();
  for (let i = 0; i < specs.length; i++) {
    const s = specs[i]!;
    if (s.type !== 'linear' && s.type !== 'flakey') continue;
    const [devText, offText] = s.params.split(' ');
    if (!devText || !offText) continue;
    if (!sizes.has(devText)) {
      try {
        sizes.set(devText, bytesToSectors(blockDeviceInfo(parseDeviceNumber(devText)).size));
      } catch {
        sizes.set(devText, undefined);
      }
    }
    const size = sizes.get(devText);
    const end = Number(offText) + s.length;
    if (size !== undefined && end > size) {
      return `segment ${i} (sectors ${s.start}+${s.length}) maps ${devText} up to sector ${end}, past its end at ${size}`;
    }
    if (size === undefined) return `segment ${i} (sectors ${s.start}+${s.length}) maps ${devText}, which is not a block device here`;
  }
  return undefined;
}
