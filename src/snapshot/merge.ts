/**
 * The kernel's merge of a rollback: its progress read from the origin's
 * status (snapshot-merge reports `<allocated>/<total> <metadata>` and is done
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

export interface MergeProgress {
  /** sectors of exceptions still to merge */
  readonly remaining: number;
  /** sectors there were when we first looked (this process) */
  readonly initial: number;
  readonly done: boolean;
}

/** The merge's status on the origin, or undefined when the origin does not carry our snapshot-merge. */
export function mergeStatus(op: Operation): SnapshotStatus | undefined {
  const s = inspectStack(op.dm, op.name, op.manifest.origin.dmName);
  if (s.originKind !== 'merge') return undefined;
  const [target] = op.dm.status(op.manifest.origin.dmName);
  return target ? parseSnapshotStatus(target.params) : undefined;
}

function failed(op: Operation, status: SnapshotStatus): SnapstoreError | undefined {
  if (status.state === 'merge-failed') {
    return new SnapstoreError('MERGE_FAILED', `the kernel reports the merge of snapshot "${op.name}" failed (status "Merge failed") on ${op.manifest.origin.dmName}`, {
      hint: 'the origin keeps showing the old contents through snapshot-merge; look at `dmesg` for the I/O error. After fixing the device, reboot and `snapstore activate`: the merge resumes where it stopped',
    });
  }
  if (status.state === 'invalid') {
    return new SnapstoreError('SNAPSHOT_INVALID', `the store of snapshot "${op.name}" is invalid during its merge`, { hint: 'look at `dmesg`; do not write to the origin' });
  }
  return undefined;
}

/**
 * When the kernel has merged everything (or an earlier run saw it had),
 * ends the rollback and returns true. "merge done" is written first: after a
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
  await finish(op, 'rolled-back', 'the kernel merged the store; the origin is back on its own table');
  return true;
}

/** Waits until the kernel's merge is done (polling its status), then ends the rollback. */
export async function waitForMerge(op: Operation, onProgress?: (p: MergeProgress) => void, signal?: AbortSignal, pollMs = 250): Promise<void> {
  let initial: number | undefined;
  for (;;) {
    const status = mergeStatus(op);
    if (status === undefined) {
      throw new SnapstoreError('STACK_MISMATCH', `${op.manifest.origin.dmName} does not carry the merge of snapshot "${op.name}"`, { hint: '`snapstore status` shows where it stands' });
    }
    const bad = failed(op, status);
    if (bad) throw bad;
    if (status.state === 'active') {
      const remaining = status.allocated - status.metadata;
      initial ??= remaining;
      onProgress?.({ remaining, initial, done: remaining === 0 });
      if (remaining === 0) break;
    }
    throwIfInterrupted(signal, `while waiting for the merge of "${op.name}" (it goes on in the kernel; \`snapstore rollback ${op.name} --wait\` waits again)`);
    await sleep(pollMs);
  }
  await finishMergeIfDone(op);
}
