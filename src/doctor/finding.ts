/**
 * What a check found: `ok`, `warn` (works, with a caveat or untested) or
 * `fail` (a snapstore command will refuse, or the way back would be lost),
 * what it is and why, and the fix. The shape is what `doctor --json` prints,
 * so its keys are stable.
 */
import { SnapstoreError } from '../errors.js';

export type FindingStatus = 'ok' | 'warn' | 'fail';

export interface Finding {
  /** a stable id: root, device-mapper, dm-targets, ... */
  readonly check: string;
  readonly status: FindingStatus;
  readonly message: string;
  /** what to do about it; null when nothing needs doing */
  readonly fix: string | null;
}

export const ok = (check: string, message: string): Finding => ({ check, status: 'ok', message, fix: null });
export const warn = (check: string, message: string, fix: string | null): Finding => ({ check, status: 'warn', message, fix });
export const fail = (check: string, message: string, fix: string | null): Finding => ({ check, status: 'fail', message, fix });

/** A refusal of the library's own check, as a finding: its message, and its hint as the fix. Anything else is a bug, thrown on. */
export function refusal(check: string, err: unknown, status: Exclude<FindingStatus, 'ok'> = 'fail'): Finding {
  if (!(err instanceof SnapstoreError)) throw err;
  return { check, status, message: err.message, fix: err.hint ?? null };
}
