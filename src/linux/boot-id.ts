/**
 * The running boot's id (/proc/sys/kernel/random/boot_id, proc(5)): a random
 * UUID the kernel makes at every boot. A record that keeps it can tell "this
 * boot" from "an earlier one" with no clock and no state of its own.
 */
import * as fs from 'node:fs';
import { fromNodeError } from './errors.js';

export function bootId(file = '/proc/sys/kernel/random/boot_id'): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw fromNodeError(err, 'read', file);
  }
}
