import * as fs from 'node:fs';
import { SnapstoreError } from '../../errors.js';
import { exportView } from '../../cow/export.js';
import { FileIo } from '../../cow/file-io.js';
import { formatBytes } from '../../units/units.js';
import type { CommandContext } from '../context.js';

export interface ExportOptions {
  origin: string;
  cow: string;
  /** A new image file (created), or an existing block device to overwrite. */
  out: string;
  force?: boolean;
}

/** st_dev:st_ino of a file or st_rdev of a device: what "the same thing" means. */
function identity(path: string): string | undefined {
  try {
    const st = fs.statSync(path);
    return st.isBlockDevice() ? `dev ${st.rdev}` : `ino ${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

export async function run(options: ExportOptions, ctx: CommandContext): Promise<void> {
  const out = identity(options.out);
  if (out !== undefined && (out === identity(options.origin) || out === identity(options.cow))) {
    throw new SnapstoreError('EXPORT_OVERWRITES_INPUT', `${options.out} is one of the inputs`, {
      hint: 'export writes a new image; to change the origin, use merge',
    });
  }
  const origin = FileIo.open(options.origin);
  const cow = FileIo.open(options.cow);
  let target: FileIo | undefined;
  try {
    const isDevice = out !== undefined && out.startsWith('dev ');
    target = isDevice ? FileIo.open(options.out, { writable: true }) : FileIo.create(options.out, origin.size);
    const s = exportView(origin, cow, target, { force: options.force });
    ctx.result({ out: options.out, ...s });
    ctx.out(`${options.out}: ${formatBytes(s.originBytes)}, the snapshot's view (${s.exceptions} exceptions applied) in ${s.seconds.toFixed(2)} s`);
  } finally {
    origin.close();
    cow.close();
    target?.close();
  }
}
