/**
 * One way for a creator to undo its partial work: each step that makes
 * something registers how to take it back; unless the whole operation
 * commits, the steps are undone newest first. The error that stopped the
 * operation then says what was undone, or what is left and how to remove it.
 */
import { SnapstoreError, withNote } from '../errors.js';

/**
 * Marks an error that stands for the process dying (a test's simulated
 * crash at a fault point): nothing is undone for it, as nothing would be.
 */
export const NO_UNDO = Symbol('no undo: the process died here');

interface Step {
  readonly what: string;
  readonly undo: () => void | Promise<void>;
}

export class UndoStack {
  private readonly steps: Step[] = [];
  private committed = false;

  /** Registers how to take back `what` (a short description: "the store file /data/s"). */
  push(what: string, undo: () => void | Promise<void>): void {
    this.steps.push({ what, undo });
  }

  /** The work is complete: nothing will be undone. */
  commit(): void {
    this.committed = true;
  }

  /** Undoes every step, newest first; returns what could not be undone, with why. */
  async unwind(): Promise<{ undone: string[]; left: string[] }> {
    const undone: string[] = [];
    const left: string[] = [];
    for (const step of this.steps.reverse()) {
      try {
        await step.undo();
        undone.push(step.what);
      } catch (err) {
        left.push(`${step.what} (${(err as Error).message})`);
      }
    }
    this.steps.length = 0;
    return { undone, left };
  }

  get isCommitted(): boolean {
    return this.committed;
  }
}

/** What an unwind did, as a note for the error that caused it. */
export function describeUnwind(r: { undone: string[]; left: string[] }): string {
  if (r.left.length > 0) {
    return `could not undo: ${r.left.join('; ')}${r.undone.length ? `; undone: ${r.undone.join(', ')}` : ''}`;
  }
  return r.undone.length ? `nothing was left behind (undone: ${r.undone.join(', ')})` : 'nothing was changed';
}

/**
 * Runs `fn` with an undo stack. `fn` calls `undo.commit()` once all of it
 * holds; if it throws before that, the stack is unwound and the error gets
 * a note saying what was undone or what is left.
 */
export async function withUndo<T>(fn: (undo: UndoStack) => Promise<T> | T): Promise<T> {
  const undo = new UndoStack();
  try {
    const value = await fn(undo);
    undo.commit();
    return value;
  } catch (err) {
    if (undo.isCommitted || (typeof err === 'object' && err !== null && NO_UNDO in err)) throw err;
    throw withNote(err, describeUnwind(await undo.unwind()));
  }
}

/**
 * Runs `fn` with an undo stack that is always unwound, also when `fn`
 * succeeds: for steps that only serve the while (a read-only mount, a device
 * to read through). A failure of `fn` gets the unwind's note; a success whose
 * unwind left something becomes CLEANUP_INCOMPLETE, naming what is left.
 */
export async function withTemporary<T>(fn: (undo: UndoStack) => Promise<T> | T): Promise<T> {
  const undo = new UndoStack();
  let value: T;
  try {
    value = await fn(undo);
  } catch (err) {
    if (typeof err === 'object' && err !== null && NO_UNDO in err) throw err;
    throw withNote(err, describeUnwind(await undo.unwind()));
  }
  const r = await undo.unwind();
  if (r.left.length > 0) {
    throw new SnapstoreError('CLEANUP_INCOMPLETE', `the work was done, but ${describeUnwind(r)}`, { hint: 'take away by hand what is named above (umount, dmsetup remove, rmdir), then run the command again' });
  }
  return value;
}
