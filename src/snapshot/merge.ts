/**
 * The kernel's merge (a checkpoint's rollback, an update's commit): its
 * progress read from the merging device's status (snapshot-merge reports `<allocated>/<total> <metadata>` and is done
 * when allocated == metadata), waiting for it, and the end: the origin back
 * on its own table, our devices gone, the store deleted.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { mergeComplete, parseSnapshotStatus, type SnapshotStatus } from '../dm/status.js';
import { SnapstoreError } from '../errors.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { dropStack } from './build.js';
import type { Operation } from './context.js';
import { finish } from './finish.js';
import { inspectStack } from './stack.js';
import { originLabel } from './manifest.js';
import { inspectUpdate, updateDevice } from './update-stack.js';

export interface MergeProgress {
  /** sectors of exceptions still to merge */
  readonly remaining: number;
  /** sectors there were when we first looked (this process) */
  readonly initial: number;
  readonly done: boolean;
}

/**
 * The device that carries the merge: the origin itself (a checkpoint's
 * rollback, as LVM merges) or `snapstore-NAME` (an update's commit), when it
 * carries our snapshot-merge now.
 */
export function mergeDevice(op: Operation): string | undefined {
  if (op.manifest.mode === 'update') return inspectUpdate(op.dm, op.name).kind === 'merge' ? updateDevice(op.name) : undefined;
  return inspectStack(op.dm, op.name, op.originDm).originKind === 'merge' ? op.originDm : undefined;
}

/** The merge's status, or undefined when no device carries our snapshot-merge. */
export function mergeStatus(op: Operation): SnapshotStatus | undefined {
  const device = mergeDevice(op);
  if (device === undefined) return undefined;
  const [target] = op.dm.status(device);
  return target ? parseSnapshotStatus(target.params) : undefined;
}

/** What a finished merge makes of the snapshot: a checkpoint rolled back, an update committed. */
export const mergeEnd = (op: Operation): 'rolled-back' | 'committed' => (op.manifest.mode === 'update' ? 'committed' : 'rolled-back');
/** The command that goes on with the merge. */
const verb = (op: Operation): string => (op.manifest.mode === 'update' ? 'commit' : 'rollback');

function failed(op: Operation, status: SnapshotStatus): SnapstoreError | undefined {
  if (status.state === 'merge-failed') {
    return new SnapstoreError('MERGE_FAILED', `the kernel reports the merge of snapshot "${op.name}" failed (status "Merge failed") on ${mergeDevice(op) ?? originLabel(op.manifest)}`, {
      hint: `${mergeDevice(op) ?? 'the device'} keeps showing the ${op.manifest.mode === 'update' ? 'new' : 'old'} contents through snapshot-merge; look at \`dmesg\` for the I/O error. After fixing the device, reboot and \`snapstore activate\`: the merge resumes where it stopped`,
    });
  }
  if (status.state === 'invalid') {
    return new SnapstoreError('SNAPSHOT_INVALID', `the store of snapshot "${op.name}" is invalid during its merge`, { hint: 'look at `dmesg`; do not write to the origin' });
  }
  return undefined;
}

/**
 * When the kernel has merged everything (or an earlier run saw it had),
 * ends the rollback (or commit) and returns true. "merge done" is written first: after a
 * crash in the clean-up, the origin on its own table is known to be merged.
 */
export async function finishMergeIfDone(op: Operation): Promise<boolean> {
  if (!op.manifest.mergeDone) {
    const status = mergeStatus(op);
    if (status === undefined) return false;
    const bad = failed(op, status);
    if (bad) throw bad;
    if (!mergeComplete(status)) return false;
    op.note({ mergeDone: true }, 'the kernel merged every exception');
  }
  await dropStack(op);
  await finish(op, mergeEnd(op), op.manifest.mode === 'update' ? 'the kernel merged the update into the origin' : 'the kernel merged the store; the origin is back on its own table');
  return true;
}

/** Waits until the kernel's merge is done (polling its status), then ends the rollback (or commit). */
export async function waitForMerge(op: Operation, onProgress?: (p: MergeProgress) => void, signal?: AbortSignal, pollMs = 250): Promise<void> {
  let initial: number | undefined;
  for (;;) {
    const status = mergeStatus(op);
    if (status === undefined) {
      throw new SnapstoreError('STACK_MISMATCH', `no device carries the merge of snapshot "${op.name}"`, { hint: '`snapstore status` shows where it stands' });
    }
    const bad = failed(op, status);
    if (bad) throw bad;
    if (status.state === 'active') {
      const remaining = status.allocated - status.metadata;
      initial ??= remaining;
      onProgress?.({ remaining, initial, done: remaining === 0 });
      if (remaining === 0) break;
    }
    throwIfInterrupted(signal, `while waiting for the merge of "${op.name}" (it goes on in the kernel; \`snapstore ${verb(op)} ${op.name} --wait\` waits again)`);
    await sleep(pollMs);
  }
  await finishMergeIfDone(op);
}

export interface MergeWaitOptions {
  /** wait until the merge is done (else it goes on in the kernel) */
  readonly wait?: boolean;
  readonly onProgress?: (p: MergeProgress) => void;
  readonly signal?: AbortSignal;
}

/**
 * After the merge was started (or found running): finished if the kernel is
 * done, waited for if asked. 'absent': no device carries it now (it goes on
 * at the next activate).
 */
export async function goOnMerging(op: Operation, options: MergeWaitOptions): Promise<'done' | 'merging' | 'absent'> {
  if (await finishMergeIfDone(op)) return 'done';
  if (!mergeStatus(op)) return 'absent';
  if (!options.wait) return 'merging';
  await waitForMerge(op, options.onProgress, options.signal);
  return 'done';
}
