import { SnapstoreError } from '../../errors.js';
import { FileIo } from '../../cow/file-io.js';
import type { BlockIo } from '../../cow/io.js';
import { type MergeSummary, mergeOffline } from '../../cow/merge.js';
import type { OriginRange } from '../../cow/table.js';
import { readManifest } from '../../store/manifest.js';
import { openManifestStore } from '../../store/raw-device.js';
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

/** Our store, through its manifest's map on its device; its extents there must never be merged over. */
async function openOurStore(stateDir: string, name: string, writable: boolean): Promise<{ io: BlockIo; extents: OriginRange[] }> {
  const m = readManifest(stateDir, name);
  const raw = await openManifestStore(m, writable);
  return { io: raw.store, extents: m.segments.map((s) => ({ offset: s.physical, length: s.length })) };
}

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
    });
  }
  if ((options.cow === undefined) === (options.store === undefined)) {
    throw new SnapstoreError('MERGE_STORE_ARG', 'give exactly one of --cow DEV_OR_IMAGE and --store NAME', {
      hint: '--cow for any store (an image or a device); --store for a store snapstore created',
    });
  }
  const writable = !options.dryRun;
  const origin = FileIo.open(options.origin, { writable });
  let store: BlockIo | undefined;
  try {
    let storeExtents: OriginRange[] = [];
    if (options.store !== undefined) {
      ({ io: store, extents: storeExtents } = await openOurStore(options.stateDir, options.store, writable));
    } else {
      store = FileIo.open(options.cow!, { writable });
    }
    if (options.force) ctx.err('warning: --force: merging even if the snapshot is Invalid; the result may be corrupt');
    const bar = ctx.progress('merging', (n) => `${n} chunks`);
    let s: MergeSummary;
    try {
      s = mergeOffline(origin, store, {
        force: options.force,
        verify: options.verify,
        dryRun: options.dryRun,
        storeExtents,
        onProgress: (p) => bar.update(p.doneChunks, p.totalChunks),
      });
    } finally {
      bar.stop();
    }
    ctx.result({ origin: options.origin, store: options.cow ?? options.store, ...s, megabytesPerSecond: s.bytesPerSecond / 1e6 });
    ctx.out(describe(s));
  } finally {
    origin.close();
    store?.close();
  }
}

