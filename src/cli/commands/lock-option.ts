/** `--wait-lock [seconds]`: how long to wait for another snapstore command (default 300 s when given without a value). */
export function waitLockMs(value: string | boolean | undefined): number {
  if (value === undefined || value === false) return 0;
  if (value === true) return 300_000;
  const s = Number(value);
  return Number.isFinite(s) && s >= 0 ? Math.round(s * 1000) : 300_000;
}
