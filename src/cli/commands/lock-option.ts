import { SnapstoreError } from '../../errors.js';

/** `--wait-lock [seconds]`: how long to wait for another snapstore command (default 300 s when given without a value). */
export function waitLockMs(value: string | boolean | undefined): number {
  if (value === undefined || value === false) return 0;
  if (value === true) return 300_000;
  const s = Number(value);
  if (value.trim() === '' || !Number.isFinite(s) || s < 0) {
    throw new SnapstoreError('BAD_VALUE', `--wait-lock "${value}" is not a number of seconds`, {
      hint: '--wait-lock 60 waits up to a minute for another snapstore command; --wait-lock alone waits 300 s',
      usage: true,
    });
  }
  return Math.round(s * 1000);
}
