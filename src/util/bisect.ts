/**
 * The index of the last item whose start is at or before `value`, in items
 * sorted by start (0 when `value` precedes them all): which segment of a
 * sorted map holds an offset.
 */
export function lastStartingAtOrBefore<T>(items: readonly T[], start: (item: T) => number, value: number): number {
  let lo = 0;
  let hi = items.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (start(items[mid]!) <= value) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The index of the first item whose end is after `value` (items.length when none): which range may hold an offset. */
export function firstEndingAfter<T>(items: readonly T[], end: (item: T) => number, value: number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (end(items[mid]!) <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
