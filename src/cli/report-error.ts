import { SnapstoreError } from '../errors.js';

export interface ErrorReport {
  code: string;
  message: string;
  hint?: string;
  /** the command line was wrong: exit 2 */
  usage?: boolean;
}

/**
 * What the user sees of an error: its message, its stable code, the way
 * out. Every error the library means to report is a SnapstoreError; anything
 * else is a bug, reported as INTERNAL with its stack so it can be fixed.
 */
export function describeError(err: unknown): ErrorReport {
  if (err instanceof SnapstoreError) {
    return { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}), ...(err.usage ? { usage: true } : {}) };
  }
  if (err instanceof Error) return { code: 'INTERNAL', message: err.stack ?? err.message, hint: 'this is a bug in snapstore: please report it with the text above' };
  return { code: 'INTERNAL', message: String(err) };
}
