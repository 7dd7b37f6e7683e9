/**
 * The end of a snapshot: its store deleted (unless kept), and its record
 * turned into a tombstone. The store file lives on a filesystem that may
 * not be mounted yet (a rollback finished at boot): then its deletion waits,
 * recorded, until a later command (`recover`, `status`, a rerun) finds the
 * filesystem mounted.
 */
import { SnapstoreError } from '../errors.js';
import { findManifest } from '../store/manifest.js';
import type { Operation } from './context.js';
import type { SnapshotState } from './states.js';

/** Deletes the store (unless kept); true when it is gone or kept, false when it has to wait for its filesystem. */
export async function deleteStoreOf(op: Operation): Promise<boolean> {
  if (op.manifest.keepStore) return true;
  if (!findManifest(op.lock.dir, op.manifest.store)) return true;
  try {
    await op.platform.deleteStore(op.lock, op.manifest.store);
    op.say(`store "${op.manifest.store}" deleted`);
    return true;
  } catch (err) {
    if (err instanceof SnapstoreError && err.code === 'STORE_FS_ABSENT') {
      op.say(`the store file waits for its filesystem to be mounted: \`snapstore recover\` deletes it then (${err.message})`);
      return false;
    }
    throw err;
  }
}

/** What a finished command's message adds when its store waits for its filesystem (else nothing). */
export const storeNote = (op: Operation): string => (op.manifest.storePending ? '; the store file is deleted once its filesystem is mounted (`snapstore recover`)' : '');

/** Finishes: store deleted (or its deletion recorded as pending), state `end`. */
export async function finish(op: Operation, end: SnapshotState, note: string): Promise<void> {
  const gone = await deleteStoreOf(op);
  op.advance(end, note, { storePending: !gone });
}
