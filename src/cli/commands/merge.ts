import type { MergeSummary } from '../../cow/merge.js';
import { SnapstoreError } from '../../errors.js';
import { mergeStoreOffline } from '../../store/offline.js';
import { formatBytes } from '../../units/units.js';
import type { CommandContext } from '../context.js';

export interface MergeCommandOptions {
  /** Required: the online merge (kernel snapshot-merge) belongs to the snapshot commands. */
  offline?: boolean;
  origin: string;
  /** A store made by anyone: an image file or a block device. */
  cow?: string;
  /** A store of ours, by name: read through its map on the raw device. */
  store?: string;
  stateDir: string;
  force?: boolean;
  verify?: boolean;
  dryRun?: boolean;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

function describe(s: MergeSummary): string {
  switch (s.outcome) {
    case 'nothing-to-merge':
      return 'nothing to merge: the store has no exceptions (the snapshot saw no writes)';
    case 'already-merged':
      return `already merged: all ${s.totalExceptions} exceptions were written to the origin by an earlier run`;
    case 'dry-run':
      return `dry run: would write ${s.chunks} chunks (${formatBytes(s.bytes)}) to the origin in ${s.writes} writes; nothing was written`;
    case 'merged': {
      const resumed = s.alreadyMerged > 0 ? ` (resumed: ${s.alreadyMerged} of ${s.totalExceptions} were merged by an earlier run)` : '';
      const rate = (s.bytesPerSecond / 1e6).toFixed(1);
      return `merged ${s.chunks} chunks (${formatBytes(s.bytes)}) in ${s.seconds.toFixed(2)} s, ${rate} MB/s, ${s.writes} writes${s.verified ? ', verified' : ''}${resumed}`;
    }
  }
}

export async function run(options: MergeCommandOptions, ctx: CommandContext): Promise<void> {
  if (!options.offline) {
    throw new SnapstoreError('MERGE_NEEDS_OFFLINE', 'merge without --offline is the kernel merge of an active snapshot', {
      hint: 'pass --offline to merge a store into an origin that nothing has open',
      usage: true,
    });
  }
  if (options.force) ctx.err('warning: --force: merging even if the snapshot is Invalid; the result may be corrupt');
  const bar = ctx.progress('merging', (n) => `${n} chunks`);
  let s: MergeSummary;
  try {
    s = await mergeStoreOffline({
      origin: options.origin,
      cow: options.cow,
      store: options.store,
      stateDir: options.stateDir,
      force: options.force,
      verify: options.verify,
      dryRun: options.dryRun,
      onProgress: (p) => bar.update(p.doneChunks, p.totalChunks),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
  } finally {
    bar.stop();
  }
  ctx.result('merge', { origin: options.origin, store: options.cow ?? options.store, ...s, seconds: round3(s.seconds), bytesPerSecond: Math.round(s.bytesPerSecond), megabytesPerSecond: round3(s.bytesPerSecond / 1e6) });
  ctx.out(describe(s));
}
