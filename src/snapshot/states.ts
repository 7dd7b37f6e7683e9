/**
 * The snapshot's persisted state machine. Each state is written before the
 * act it describes; these are the only transitions. "merging" is the point
 * of no return (as in Android's libsnapshot): from there only the merge goes
 * on, and nothing brings back a writable snapshot or origin over that store.
 */
import { SnapstoreError } from '../errors.js';

export const SNAPSHOT_STATES = [
  /** the store is being made and the stack set up: a crash here is undone by `recover` */
  'creating',
  /** the snapshot holds the way back (live, or to be activated after a reboot) */
  'active',
  /** a rollback was asked while the origin was mounted: the next `activate` starts the merge */
  'rollback-pending',
  /** the store is being merged into the origin (by the kernel or by us): only forward */
  'merging',
  /** the snapshot is being dropped, keeping the origin as it is now */
  'committing',
  'discarding',
  /** update mode: the snapshot (the update) is being dropped, the origin kept as it was */
  'rolling-back',
  /** tombstones: the snapshot is finished */
  'committed',
  'rolled-back',
  'discarded',
] as const;

export type SnapshotState = (typeof SNAPSHOT_STATES)[number];

/** Checkpoint mode: rollback = merge the old contents back; commit = drop the snapshot. */
const CHECKPOINT: Record<SnapshotState, readonly SnapshotState[]> = {
  // a create that did not finish is undone: it ends as discarded
  creating: ['active', 'discarded'],
  active: ['rollback-pending', 'merging', 'committing', 'discarding'],
  'rollback-pending': ['merging', 'committing', 'discarding'],
  merging: ['rolled-back'],
  committing: ['committed'],
  discarding: ['discarded'],
  'rolling-back': [],
  committed: [],
  'rolled-back': [],
  discarded: [],
};

/** Update mode: commit = merge the update into the origin; rollback = drop it. */
const UPDATE: Record<SnapshotState, readonly SnapshotState[]> = {
  creating: ['active', 'discarded'],
  active: ['rollback-pending', 'merging', 'rolling-back', 'discarding'],
  'rollback-pending': ['merging', 'rolling-back', 'discarding'],
  merging: ['committed'],
  committing: [],
  discarding: ['discarded'],
  'rolling-back': ['rolled-back'],
  committed: [],
  'rolled-back': [],
  discarded: [],
};

export const FINISHED: readonly SnapshotState[] = ['committed', 'rolled-back', 'discarded'];

export function isFinished(state: SnapshotState): boolean {
  return FINISHED.includes(state);
}

/** Refuses a transition the state machine does not have (a bug, or a manifest changed behind our back). */
/** The way out for a commit asked of a snapshot whose update was undone (rolled back, or dropped): nothing is left to commit. */
export function nothingToCommit(mode: 'checkpoint' | 'update'): string {
  return mode === 'checkpoint'
    ? 'nothing is left to commit: to try the update again, take a new checkpoint before it (`snapstore create`)'
    : 'nothing is left to commit: to apply the update, make a new update snapshot and write it again (`snapstore create --mode update`)';
}

export function checkTransition(name: string, mode: 'checkpoint' | 'update', from: SnapshotState, to: SnapshotState): void {
  if (from === to || (mode === 'update' ? UPDATE : CHECKPOINT)[from].includes(to)) return;
  throw new SnapstoreError('BAD_STATE', `snapshot "${name}" (${mode} mode) is ${from}; it cannot become ${to}`, {
    hint: '`snapstore status` shows where it stands; `snapstore recover` finishes an interrupted step',
  });
}
