import { SnapstoreError } from '../../errors.js';
import { inspectSource } from '../../store/offline.js';
import { formatBytes, sectorsToBytes } from '../../units/units.js';
import type { CommandContext } from '../context.js';

export interface InspectOptions {
  /** An image file or block device holding a persistent exception store. */
  cow?: string;
  /** A store of ours, by name: read raw through its map. */
  store?: string;
  stateDir: string;
  exceptions?: boolean;
}

export async function run(options: InspectOptions, ctx: CommandContext): Promise<void> {
  if ((options.cow === undefined) === (options.store === undefined)) {
    throw new SnapstoreError(
      'USAGE_STORE',
      options.cow === undefined ? 'inspect needs a store: a device or image path, or --store NAME' : `inspect takes one store: ${options.cow} or --store ${options.store}, not both`,
      { hint: 'snapstore inspect /dev/mapper/snapstore-NAME-cow (any device or image), or snapstore inspect --store NAME (one of ours, read raw through its map)', usage: true },
    );
  }
  const r = await inspectSource(options);
  const name = options.store !== undefined ? `"${options.store}"` : options.cow!;
  if (!r.written) {
    ctx.result('inspect', { store: options.store, written: false });
    ctx.out(`store ${name}: nothing has written to it yet (its header is all zeros): a new store, ready for a snapshot`);
    return;
  }
  ctx.result('inspect', { store: options.store ?? options.cow, ...r, merge: r.merge ? { ...r.merge, firstOld: String(r.merge.firstOld), firstNew: String(r.merge.firstNew) } : null });
  ctx.out(`store ${name}: ${formatBytes(r.storeBytes)}, chunk size ${formatBytes(r.chunkBytes)}`);
  ctx.out(`  valid:        ${r.valid ? 'yes' : 'NO (Invalid: the kernel stopped recording; no rollback is possible)'}`);
  ctx.out(`  exceptions:   ${r.exceptions} (${formatBytes(r.originBytesChanged)} of the origin changed)`);
  ctx.out(`  areas used:   ${r.areasUsed} (${r.exceptionsPerArea} exceptions each)`);
  ctx.out(
    `  store usage:  ${formatBytes(sectorsToBytes(r.usage.allocated))} of ${formatBytes(sectorsToBytes(r.usage.total))} used, ${formatBytes(sectorsToBytes(r.usage.metadata))} of it metadata (dmsetup status would say ${r.usage.allocated}/${r.usage.total} ${r.usage.metadata})`,
  );
  if (r.merge) {
    ctx.out(
      r.merge.state === 'merged'
        ? `  offline merge: done (${r.merge.total} exceptions)`
        : `  offline merge: interrupted, ${r.merge.total - r.exceptions} of ${r.merge.total} exceptions merged; run the merge again to finish`,
    );
  }
  for (const e of r.list ?? []) ctx.out(`  ${e.oldChunk} -> ${e.newChunk}`);
}
