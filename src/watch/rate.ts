/**
 * A store's fill rate from successive usage samples: bytes per second,
 * smoothed (an exponential moving average with a time constant, so that
 * irregular poll intervals weigh fairly) but quick to follow a rise: a
 * writer that speeds up must be met at once, one that slows down can wait.
 */
export class FillRate {
  private last: { readonly ms: number; readonly used: number } | undefined;
  private rate = 0;

  /** `tauMs`: how long a past rate takes to fade to a third of its weight. */
  constructor(private readonly tauMs = 2000) {}

  /** Feeds one sample (time in ms, bytes used); returns the rate in bytes per second. */
  sample(ms: number, used: number): number {
    const last = this.last;
    this.last = { ms, used };
    if (!last || ms <= last.ms) return this.rate;
    // Usage only grows while a snapshot lives; a drop (a store replaced) starts over.
    const now = Math.max(0, ((used - last.used) * 1000) / (ms - last.ms));
    if (now >= this.rate) this.rate = now;
    else this.rate += (now - this.rate) * (1 - Math.exp(-(ms - last.ms) / this.tauMs));
    return this.rate;
  }

  get bytesPerSecond(): number {
    return this.rate;
  }
}
