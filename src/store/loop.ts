/**
 * Loop devices over a store file, through util-linux's losetup (present
 * wherever snapstore runs, early boot included).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';
import { SnapstoreError } from '../errors.js';

/** Attaches `file` with direct I/O, so the page cache holds no second copy of the store. */
export async function attachLoop(file: string): Promise<string> {
  const r = await execa('losetup', ['--find', '--show', '--direct-io=on', file], { reject: false });
  if (r.exitCode !== 0) {
    throw new SnapstoreError('LOOP_FAILED', `losetup could not attach ${file}: ${r.stderr.trim()}`, {
      hint: 'check that the loop module is loaded and a loop device is free (losetup -f)',
    });
  }
  return r.stdout.trim();
}

export async function detachLoop(device: string): Promise<void> {
  const r = await execa('losetup', ['--detach', device], { reject: false });
  if (r.exitCode !== 0) {
    throw new SnapstoreError('LOOP_FAILED', `losetup could not detach ${device}: ${r.stderr.trim()}`, {
      hint: `detach it by hand: losetup -d ${device}`,
    });
  }
}

/** Loop devices whose backing file is `file` (read from sysfs; the kernel marks an unlinked one " (deleted)"). */
export function loopsOverFile(file: string): string[] {
  const out: string[] = [];
  for (const dev of fs.readdirSync('/sys/block').filter((d) => d.startsWith('loop'))) {
    try {
      const backing = fs.readFileSync(path.join('/sys/block', dev, 'loop', 'backing_file'), 'utf8').trim();
      if (backing.replace(/ \(deleted\)$/, '') === file) out.push(`/dev/${dev}`);
    } catch {
      // not attached
    }
  }
  return out;
}
