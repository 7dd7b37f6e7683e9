/**
 * `snapstore diff NAME`: what the update changed since checkpoint NAME was
 * made, for an engineer deciding whether to roll back. Both views are
 * mounted read-only for the while (old-view.ts) and compared (src/tree),
 * and whatever was made is taken away again, on success, on error and when
 * a signal stops the walk. The checkpoint's own store file, when it lies on
 * the origin's filesystem, is left out: it is snapstore's, not the update's
 * (it grows with the watcher). It reads only: no lock is taken (a watcher
 * must stay free to grow the store meanwhile) and no record is written.
 */
import { diffTrees, type TreeDiff } from '../tree/diff-trees.js';
import type { Entry } from '../tree/entry.js';
import { StateDir } from '../state/state-dir.js';
import { findManifest } from '../store/manifest.js';
import { withTemporary } from '../util/undo.js';
import { withPlatform } from './context.js';
import { readSnapshot } from './manifest.js';
import { mountViews } from './old-view.js';
import type { Platform } from './platform.js';

export interface DiffOptions {
  readonly stateDir: string;
  readonly name: string;
  readonly platform?: Platform;
  /** stops the walk at a safe point (INTERRUPTED), everything undone */
  readonly signal?: AbortSignal;
  /** narration: what is mounted where */
  readonly log?: (line: string) => void;
}

export interface SnapshotDiff extends TreeDiff {
  readonly name: string;
  readonly fsType: string;
  /** the device the contents before the update were read from */
  readonly snapshotDevice: string;
  /** the origin's device, and its mount the contents now were read from (null: nothing mounted it) */
  readonly origin: { readonly device: string; readonly mountedAt: string | null };
  /** the store's file as its manifest names it, when it lies on the origin and was left out */
  readonly storeLeftOut: string | null;
}

export async function diffSnapshot(options: DiffOptions): Promise<SnapshotDiff> {
  const stateDir = StateDir.need(options.stateDir);
  const m = readSnapshot(stateDir, options.name);
  const log = options.log ?? (() => {});
  // Same inode in both views: the snapshot is a copy of the filesystem's blocks.
  const store = findManifest(stateDir, m.store);
  const own = store !== undefined && store.device.dmName !== undefined && store.device.dmName === m.origin.dmName ? store : undefined;
  return withPlatform(options.platform, (platform) =>
    withTemporary(async (undo) => {
      const views = await mountViews(platform, m, undo, log);
      const d = await diffTrees(views.old, views.new, {
        ...(options.signal ? { signal: options.signal } : {}),
        ...(own ? { leaveOut: (e: Entry) => e.type === 'file' && e.ino === BigInt(own.inode) } : {}),
      });
      return { name: m.name, fsType: views.fsType, snapshotDevice: views.snapshotDevice, origin: views.origin, storeLeftOut: own?.file ?? null, ...d };
    }),
  );
}
