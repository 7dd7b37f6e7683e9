/**
 * When to grow a store and by how much: a pure function of what the
 * watcher measured. It grows ahead of the writer: when the store would be
 * full within the lead time (at least `leadSeconds`, and three times what an
 * extension took last), or could not take the writes waiting in the page
 * cache (writeback sends them at the disk's speed, faster than any
 * extension), or is down to its minimum headroom; by a step that covers
 * twice that horizon at the measured rate, or the waiting writes and room
 * for another burst as large as the largest seen, with a headroom above
 * (at least `minStep`), never past `max` nor past what can still come.
 */
export interface Limits {
  /** the smallest growth worth a reload */
  readonly minStep: number;
  /** the store never grows past this many usable bytes */
  readonly max: number;
  /** grow when the store would be full within this many seconds */
  readonly leadSeconds: number;
  /** the chunk size: steps are whole chunks */
  readonly chunk: number;
}

export interface Sample {
  readonly used: number;
  readonly total: number;
  /** bytes per second */
  readonly rate: number;
  /** bytes written to the page cache and not yet on disk (they reach the store in a burst) */
  readonly pending?: number;
  /**
   * the most writes seen waiting at once so far: another burst that size may land while
   * this one is written back (a writer that dirties 32 MiB and syncs, three times over,
   * filled a store between two polls when only the writes waiting were kept free)
   */
  readonly burst?: number;
  /** the most the store can still take beyond `used` (undefined: no bound known) */
  readonly toCome?: number;
}

export type Decision =
  | { readonly action: 'none' }
  | { readonly action: 'extend'; readonly by: number; readonly why: string }
  | { readonly action: 'at-max'; readonly why: string };

/**
 * Free bytes below which a store always grows: a minimum step, or a tenth of
 * the store. A store smaller than two steps grows as soon as it is watched:
 * before the first write is seen, the rate says nothing yet.
 */
export function headroom(limits: Limits, total: number): number {
  return Math.max(limits.minStep, total / 10);
}

export function decide(s: Sample, limits: Limits, lastExtendSeconds = 0): Decision {
  const free = s.total - s.used;
  const horizon = Math.max(limits.leadSeconds, 3 * lastExtendSeconds);
  const pending = s.pending ?? 0;
  const waiting = pending + (s.burst ?? 0);
  const toCome = s.toCome ?? Infinity;
  // Never more than can still come: a fast writer's rate says nothing past that.
  const need = Math.min(Math.max(headroom(limits, s.total), s.rate * horizon, waiting), toCome + limits.chunk);
  if (free > need) return { action: 'none' };
  const why =
    waiting >= Math.max(headroom(limits, s.total), s.rate * horizon)
      ? `${Math.round(pending / 1024)} KiB of writes wait in the page cache (bursts of up to ${Math.round((s.burst ?? pending) / 1024)} KiB), ${Math.round(free / 1024)} KiB free`
      : s.rate > 0 && s.rate * horizon >= headroom(limits, s.total)
        ? `full in ${(free / s.rate).toFixed(1)} s at ${Math.round(s.rate / 1024)} KiB/s`
        : `${Math.round(free / 1024)} KiB free`;
  const room = limits.max - s.total;
  if (room < limits.chunk) return { action: 'at-max', why };
  // The waiting writes once (they may overwrite chunks already copied, or go to another
  // filesystem: counted twice, they grew stores far past their need and ate the room the
  // update itself writes into), with a headroom above them.
  let by = Math.max(limits.minStep, 2 * s.rate * horizon, waiting + headroom(limits, s.total) - free);
  by = Math.min(by, Math.max(limits.chunk, toCome + headroom(limits, s.total) - free));
  by = Math.min(Math.ceil(by / limits.chunk) * limits.chunk, Math.floor(room / limits.chunk) * limits.chunk);
  return { action: 'extend', by, why };
}

/** The used shares at which a store that cannot grow is warned about, once each. */
export const WARN_AT = [80, 90, 95] as const;

/**
 * Whether the on-full policy must act now: the store cannot grow and would
 * be full within `actSeconds` at the measured rate, or has less than
 * `reserve` bytes left; never while it has room for all that can still come.
 */
export function mustAct(s: Sample, actSeconds: number, reserve: number): boolean {
  const free = s.total - s.used;
  if (free > (s.toCome ?? Infinity) + reserve) return false;
  return free <= reserve || free <= s.rate * actSeconds;
}
