/**
 * Data written but not yet on any disk: `Dirty` plus `Writeback` in
 * /proc/meminfo (kB). Writeback can send all of it to a device at once, so a
 * store must have room for it before it comes (the watcher reads this to
 * grow ahead of a burst). System-wide: an upper bound for one filesystem.
 */
import * as fs from 'node:fs';
import type { Bytes } from '../units/units.js';
import { bytes } from '../units/units.js';

export function parsePendingWrites(meminfo: string): Bytes {
  let kb = 0;
  for (const key of ['Dirty', 'Writeback']) {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(meminfo);
    if (m) kb += Number(m[1]);
  }
  return bytes(kb * 1024);
}

/** Bytes written to the page cache and not yet on disk, system-wide (0 where /proc/meminfo cannot be read). */
export function pendingWrites(): Bytes {
  try {
    return parsePendingWrites(fs.readFileSync('/proc/meminfo', 'utf8'));
  } catch {
    return bytes(0);
  }
}
