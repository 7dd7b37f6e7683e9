import { exportStoreView } from '../../store/offline.js';
import { formatBytes } from '../../units/units.js';
import type { CommandContext } from '../context.js';

export interface ExportCommandOptions {
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

export async function run(options: ExportCommandOptions, ctx: CommandContext): Promise<void> {
  const s = await exportStoreView({ ...options, log: (line) => ctx.err(line), ...(ctx.signal ? { signal: ctx.signal } : {}) });
  ctx.result('export', { out: options.out, originBytes: s.originBytes, exceptions: s.exceptions, seconds: Math.round(s.seconds * 1000) / 1000, removedLeftovers: s.removedLeftovers });
  ctx.out(`${options.out}: ${formatBytes(s.originBytes)}, the snapshot's view (${s.exceptions} exceptions applied) in ${s.seconds.toFixed(2)} s`);
}
