// Helpers for guest test files (test/kernel/**/*.guest.ts), which run inside the VM.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** True inside the test bed's VM. */
export const inGuest = process.env.SNAPSTORE_VM === '1';

/** Throws unless running inside the VM: guest files touch real devices. */
export function requireGuest(): void {
  if (!inGuest) throw new Error('this file runs inside the kernel test bed only (test/vm/README.md)');
}

/** Guest side of the writable results share (the host reads it back). */
export const resultsDir = process.env.SNAPSTORE_VM_RESULTS ?? '/tmp';

/** The guest kernel's modules, to load a module the init did not (`modprobe -d root name`). */
export const modulesRoot = process.env.SNAPSTORE_VM_MODULES_ROOT ?? '';

/** /dev/vdX of the disk given to the boot under this name (its virtio serial). */
export function guestDisk(name: string): string {
  for (const dev of readdirSync('/sys/block')) {
    const serial = join('/sys/block', dev, 'serial');
    if (dev.startsWith('vd') && existsSync(serial) && readFileSync(serial, 'utf8').trim() === name) return `/dev/${dev}`;
  }
  throw new Error(`no disk named ${name} in this boot (see the boot's disks in the host test file)`);
}

/** Runs a program (no shell); returns its stdout; throws with its stderr on failure. */
export function run(cmd: string, args: string[] = [], input?: string | Buffer): string {
  try {
    // 64 MiB: a 100,000-segment `dmsetup table` alone prints about 2 MiB.
    return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { status?: number; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${err.status ?? '?'}): ${err.stderr?.trim() || err.message}`);
  }
}

/** Loads a module of the guest kernel that the init did not load (dm-crypt, dm-delay, ...). */
export function loadModule(name: string): void {
  run('modprobe', ['-d', modulesRoot, name]);
}
