// Shared by the power-loss guest files: the disks, the system's boot, reads.
import * as fs from 'node:fs';
import { guestDisk, run } from '../vm/guest.js';
import { sectorsOf } from './lifecycle-helpers.js';

export const META = '/tmp/mnt/pmeta';
export const STATE = `${META}/state`;
export const SIZE = 48 << 20;
export const BLOCK = 4096;
export const opts = { stateDir: STATE, log: () => {} };

/** The system's boot: the origin and the store's filesystem on passthroughs. */
export function boot(): void {
  const o = guestDisk('porigin');
  run('dmsetup', ['create', 'porigin', '--table', `0 ${SIZE / 512} linear ${o} 0`]);
  const g = guestDisk('pg');
  run('dmsetup', ['create', 'data-pg', '--table', `0 ${sectorsOf(g)} linear ${g} 0`]);
}

export function readAll(dev: string): Buffer {
  const b = Buffer.alloc(SIZE);
  const fd = fs.openSync(dev, 'r');
  fs.readSync(fd, b, 0, SIZE, 0);
  fs.closeSync(fd);
  return b;
}

