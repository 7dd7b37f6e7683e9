/**
 * Stopping long work at a safe point. A signal handler (SIGINT, SIGTERM)
 * only runs when the event loop gets control, so long loops yield now and
 * then; at each yield they check the AbortSignal they were given and, when
 * it fired, throw INTERRUPTED. The caller's undo stack (or, for a merge, the
 * work itself) then leaves things in a state it can name.
 */
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { SnapstoreError } from '../errors.js';

/** Throws INTERRUPTED if `signal` fired (its reason, e.g. "SIGINT", names what stopped us). */
export function throwIfInterrupted(signal: AbortSignal | undefined, where: string): void {
  if (!signal?.aborted) return;
  const by = typeof signal.reason === 'string' ? signal.reason : 'a signal';
  throw new SnapstoreError('INTERRUPTED', `interrupted by ${by} ${where}`, {
    hint: 'run the command again when you are ready',
  });
}

/** Yields to the event loop at most every `everyMs`, so a signal can be seen, and checks it. */
export class SafePoints {
  private last = performance.now();
  constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly everyMs = 50,
  ) {}

  async check(where: string): Promise<void> {
    if (!this.signal) return;
    const now = performance.now();
    if (now - this.last >= this.everyMs) {
      this.last = now;
      await yieldToLoop();
    }
    throwIfInterrupted(this.signal, where);
  }
}
