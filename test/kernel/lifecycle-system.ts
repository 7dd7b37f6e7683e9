// The "system" of the lifecycle suite: the devices it sets up at boot (as a
// real system's passthroughs and crypttab would) and where it mounts them.
import * as fs from 'node:fs';
import { guestDisk, run } from '../vm/guest.js';
import { loadCrypt, META, passthrough } from './lifecycle-helpers.js';

export const KEY = `${META}/keys/d.key`;

/** The system's boot: its dm devices for the data filesystems, the crypt device opened with its key in the table. */
export function bootDevices(): void {
  passthrough('data-a', 'a');
  passthrough('data-b', 'b');
  passthrough('data-c', 'c');
  passthrough('data-g', 'g');
  passthrough('data-h', 'h');
  passthrough('data-i', 'i');
  loadCrypt();
  run('cryptsetup', ['open', '--disable-keyring', '--key-file', KEY, guestDisk('d'), 'crypt-d']);
}

export const MOUNTS = { a: '/tmp/mnt/a', b: '/tmp/mnt/b', c: '/tmp/mnt/c', d: '/tmp/mnt/d', g: '/tmp/mnt/g', h: '/tmp/mnt/h', i: '/tmp/mnt/i' } as const;
export const DEVS = {
  a: '/dev/mapper/data-a',
  b: '/dev/mapper/data-b',
  c: '/dev/mapper/data-c',
  d: '/dev/mapper/crypt-d',
  g: '/dev/mapper/data-g',
  h: '/dev/mapper/data-h',
  i: '/dev/mapper/data-i',
} as const;
export type Fs = keyof typeof DEVS;
export const TYPE: Record<Fs, 'ext4' | 'xfs'> = { a: 'ext4', b: 'ext4', c: 'xfs', d: 'ext4', g: 'ext4', h: 'ext4', i: 'ext4' };
/** Every filesystem the suite mounts, for the clean-up. */
export const UNMOUNT_ALL = `sync; umount ${Object.values(MOUNTS).join(' ')} /tmp/mnt/new /tmp/mnt/p /tmp/mnt/q 2>/dev/null; cryptsetup close q-crypt 2>/dev/null; true`;

/** Enrolled: p, a plain ext4 "partition" (a whole disk here); q, a LUKS2 one, opened from its passthrough with cryptsetup's defaults (key in the keyring). */
export const ENROLL = { p: '/tmp/mnt/p', q: '/tmp/mnt/q' } as const;
/** The fstab p's boot mounts from, on the kept metadata disk (the guest's /etc is the host's, read-only). */
export const FSTAB = `${META}/etc/fstab`;

/** The system's crypttab line for q: its passthrough, opened as q-crypt (after `snapstore activate`). */
export function openQ(): void {
  run('cryptsetup', ['open', '--key-file', KEY, '/dev/mapper/snapstore-q', 'q-crypt']);
}

/** The update-mode origins: plain disks nothing uses (no passthrough), found again by their kernel name. */
export const UPDATE_DISKS = ['u1', 'u2', 'u3'] as const;

export function mount(x: Fs, extra: string[] = []): void {
  fs.mkdirSync(MOUNTS[x], { recursive: true });
  run('mount', [...extra, DEVS[x], MOUNTS[x]]);
}

