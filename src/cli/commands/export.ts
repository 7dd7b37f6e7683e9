import * as fs from 'node:fs';
import * as path from 'node:path';
import { SnapstoreError } from '../../errors.js';
import { exportView } from '../../cow/export.js';
import { FileIo } from '../../cow/file-io.js';
import { openOrigin, openStoreSource } from '../../store/sources.js';
import { formatBytes } from '../../units/units.js';
import type { CommandContext } from '../context.js';

export interface ExportOptions {
  origin: string;
  /** The store: an image or block device... */
  cow?: string;
  /** ...or one of ours, by name. */
  store?: string;
  stateDir: string;
  /** A new image file (created), or an existing block device to overwrite. */
  out: string;
  force?: boolean;
}

/** st_dev:st_ino of a file or st_rdev of a device: what "the same thing" means. */
function identity(file: string): string | undefined {
  try {
    const st = fs.statSync(file);
    return st.isBlockDevice() ? `dev ${st.rdev}` : `ino ${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

export async function run(options: ExportOptions, ctx: CommandContext): Promise<void> {
  const out = identity(options.out);
  if (out !== undefined && (out === identity(options.origin) || (options.cow !== undefined && out === identity(options.cow)))) {
    throw new SnapstoreError('EXPORT_OVERWRITES_INPUT', `${options.out} is one of the inputs`, {
      hint: 'export writes a new image; to change the origin, use merge',
    });
  }
  const isDevice = out !== undefined && out.startsWith('dev ');
  if (out !== undefined && !isDevice) {
    throw new SnapstoreError('EXPORT_EXISTS', `${options.out} already exists; export writes a new image and overwrites no file`, {
      hint: 'give a new file name, or remove the old image first',
    });
  }
  const { io: store } = await openStoreSource(options, false);
  let origin: FileIo | undefined;
  let target: FileIo | undefined;
  // A new image is written under a temporary name and renamed at the end: a
  // failed export leaves no half image behind.
  const partial = isDevice ? undefined : path.join(path.dirname(options.out), `.${path.basename(options.out)}.partial-${process.pid}`);
  let done = false;
  try {
    origin = openOrigin(options.origin, false);
    target = partial === undefined ? FileIo.open(options.out, { writable: true, exclusive: true }) : FileIo.create(partial, origin.size);
    const s = exportView(origin, store, target, { force: options.force });
    if (partial !== undefined) fs.renameSync(partial, options.out);
    done = true;
    ctx.result({ out: options.out, ...s, seconds: Math.round(s.seconds * 1000) / 1000 });
    ctx.out(`${options.out}: ${formatBytes(s.originBytes)}, the snapshot's view (${s.exceptions} exceptions applied) in ${s.seconds.toFixed(2)} s`);
  } finally {
    origin?.close();
    store.close();
    target?.close();
    if (!done && partial !== undefined) fs.rmSync(partial, { force: true });
  }
}
