// The "system" of the growth tests (boots 1 and 2 of lifecycle.test.ts): the dm passthroughs it sets
// up at boot over its disks, where it mounts them, and the data it writes: every
// 4 KiB block of a file says which file and block it is, so that a block
// overwritten by store data (the extension hazard) shows.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { guestDisk, run } from '../vm/guest.js';
import { passthrough } from './lifecycle-helpers.js';

/** The suite's own metadata disk and state directory (it shares its boots with the lifecycle suite's). */
export const GMETA = '/tmp/mnt/gmeta';
export const GSTATE = `${GMETA}/state`;

export function mountGrowthMeta(format: boolean): void {
  const d = guestDisk('gmeta');
  if (format) run('mkfs.ext4', ['-q', '-F', d]);
  fs.mkdirSync(GMETA, { recursive: true });
  run('mount', [d, GMETA]);
}

/** The extension-hazard scenarios: each filesystem type with the check on, and with it off (the test-only switch). */
export const HAZARD = [
  { key: 'e4on', type: 'ext4', check: true },
  { key: 'e4off', type: 'ext4', check: false },
  { key: 'xfon', type: 'xfs', check: true },
  { key: 'xfoff', type: 'xfs', check: false },
] as const;
export type HazardKey = (typeof HAZARD)[number]['key'];

/** Other filesystems: `io` (extension under I/O, COW reloads), `sw` (the watcher under a sustained writer), `nr` (no room to grow). */
export const OTHERS = ['io', 'sw', 'nr'] as const;

export const mnt = (key: string): string => `/tmp/mnt/${key}`;
export const dev = (key: string): string => `/dev/mapper/gr-${key}`;

/** The boot: a passthrough over each disk, as a real system's would be. */
export function bootDevices(): void {
  for (const h of HAZARD) passthrough(`gr-${h.key}`, h.key);
  for (const k of OTHERS) passthrough(`gr-${k}`, k);
}

/** `mib` MiB of data for file `id`: each 4 KiB block names the file and the block. */
export function blocks(id: string, mib: number): Buffer {
  const b = Buffer.alloc(mib << 20, 0x5a);
  for (let at = 0; at < b.length; at += 4096) b.write(`${id} block ${at / 4096}\n`, at);
  return b;
}

export function sha(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function fileSha(path: string): string {
  return sha(fs.readFileSync(path));
}
