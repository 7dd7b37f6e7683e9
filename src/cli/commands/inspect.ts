import { FileIo } from '../../cow/file-io.js';
import { inspectStore } from '../../cow/inspect.js';
import { formatBytes } from '../../units/units.js';
import type { CommandContext } from '../context.js';

export interface InspectOptions {
  /** An image file or block device holding a persistent exception store. */
  store: string;
  exceptions?: boolean;
}

export async function run(options: InspectOptions, ctx: CommandContext): Promise<void> {
  const io = FileIo.open(options.store);
  try {
    const r = inspectStore(io, { exceptions: options.exceptions });
    ctx.result({ store: options.store, ...r, merge: r.merge ? { ...r.merge, firstOld: String(r.merge.firstOld), firstNew: String(r.merge.firstNew) } : null });
    ctx.out(`store ${options.store}: ${formatBytes(r.storeBytes)}, chunk size ${formatBytes(r.chunkBytes)}`);
    ctx.out(`  valid:        ${r.valid ? 'yes' : 'NO (Invalid: the kernel stopped recording; no rollback is possible)'}`);
    ctx.out(`  exceptions:   ${r.exceptions} (${formatBytes(r.originBytesChanged)} of the origin changed)`);
    ctx.out(`  areas used:   ${r.areasUsed} (${r.exceptionsPerArea} exceptions each)`);
    ctx.out(`  usage:        ${r.usage.allocated}/${r.usage.total} ${r.usage.metadata} (sectors: allocated/total metadata, as dmsetup status)`);
    if (r.merge) {
      ctx.out(
        r.merge.state === 'merged'
          ? `  offline merge: done (${r.merge.total} exceptions)`
          : `  offline merge: interrupted, ${r.merge.total - r.exceptions} of ${r.merge.total} exceptions merged; run the merge again to finish`,
      );
    }
    for (const e of r.list ?? []) ctx.out(`  ${e.oldChunk} -> ${e.newChunk}`);
  } finally {
    io.close();
  }
}
