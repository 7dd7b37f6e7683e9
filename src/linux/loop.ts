/**
 * Loop devices over a file, through util-linux's losetup (present wherever
 * snapstore runs, early boot included), and the kernel's own word (sysfs)
 * on which loop devices are over which file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SnapstoreError } from '../errors.js';
import { runProgram } from './run.js';

async function losetup(args: string[], what: string, hint: string): Promise<string> {
  const r = await runProgram('losetup', args);
  if (r.exitCode !== 0) throw new SnapstoreError('LOOP_FAILED', `losetup could not ${what}: ${r.stderr.trim() || `exit ${r.exitCode}`}`, { hint });
  return r.stdout.trim();
}

/** A free loop device, made if none is (`losetup --find`). Another process may take it first: attachLoopAt says so. */
export function freeLoopDevice(): Promise<string> {
  return losetup(['--find'], 'find a free loop device', 'check that the loop module is loaded (modprobe loop)');
}

/**
 * Attaches `file` to the loop device `device`, with direct I/O, so the page
 * cache holds no second copy of the store. Naming the device (rather than
 * letting losetup pick one) lets the caller record it first.
 */
export async function attachLoopAt(device: string, file: string): Promise<void> {
  await losetup(['--direct-io=on', device, file], `attach ${file} to ${device}`, 'check that the loop module is loaded and the device is free (losetup -a)');
}

export async function detachLoop(device: string): Promise<void> {
  await losetup(['--detach', device], `detach ${device}`, `detach it by hand: losetup -d ${device}`);
}

/** The file behind a loop device (the kernel marks an unlinked one " (deleted)"), or undefined when it is not attached. */
export function loopBackingFile(device: string): string | undefined {
  try {
    return fs.readFileSync(path.join('/sys/block', path.basename(device), 'loop', 'backing_file'), 'utf8').trim().replace(/ \(deleted\)$/, '');
  } catch {
    return undefined;
  }
}

/** Loop devices whose backing file is `file`. */
export function loopsOverFile(file: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync('/sys/block').filter((d) => d.startsWith('loop'));
  } catch {
    return [];
  }
  return names.map((d) => `/dev/${d}`).filter((dev) => loopBackingFile(dev) === file);
}
