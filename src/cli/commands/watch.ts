import { SnapstoreError } from '../../errors.js';
import { parseSizeOrShare } from '../../units/size-spec.js';
import { DEFAULT_ON_FULL, watchSnapshots, type OnFull, type WatchEvent } from '../../watch/watcher.js';
import type { CommandContext } from '../context.js';
import { sizeOption } from '../sizes.js';

export interface WatchCommandOptions {
  names: string[];
  interval: string;
  max?: string;
  keepFree?: string;
  onFull?: string;
  minStep?: string;
  lead?: string;
  stateDir: string;
}

const POLICIES: readonly OnFull[] = ['commit', 'abort', 'invalidate'];

function number(text: string, what: string, min: number): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min) throw new SnapstoreError('BAD_VALUE', `${what} "${text}" is not a number of at least ${min}`, { hint: `e.g. ${what} ${Math.max(min, 1)}`, usage: true });
  return n;
}

export async function run(options: WatchCommandOptions, ctx: CommandContext): Promise<void> {
  const onFull = (options.onFull ?? DEFAULT_ON_FULL) as OnFull;
  if (!POLICIES.includes(onFull)) {
    throw new SnapstoreError('BAD_VALUE', `--on-full "${options.onFull}" is not one of ${POLICIES.join(', ')}`, { hint: `abort (the default) stops writes before the store fills; commit keeps the update; invalidate lets the snapshot go`, usage: true });
  }
  const line = (e: WatchEvent) => {
    ctx.jsonLine('watch-event', e);
    ctx.out(`${e.at} ${e.event === 'warning' || e.event === 'invalid' || e.event === 'policy' ? e.event.toUpperCase() : e.event} ${e.message}`);
  };
  const r = await watchSnapshots({
    ...(options.names.length ? { names: options.names } : {}),
    intervalMs: number(options.interval, '--interval', 10),
    // A share is worked out by the watcher for each store (its filesystem, its chunks).
    ...(options.max !== undefined ? { max: sizeOption('--max', options.max) } : {}),
    ...(options.keepFree !== undefined ? { keepFree: parseSizeOrShare(options.keepFree, '--keep-free') } : {}),
    ...(options.minStep !== undefined ? { minStep: sizeOption('--min-step', options.minStep) } : {}),
    ...(options.lead !== undefined ? { leadSeconds: number(options.lead, '--lead', 0.1) } : {}),
    onFull,
    stateDir: options.stateDir,
    log: (l) => ctx.err(l),
    onEvent: line,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  if (r.invalid.length) {
    throw new SnapstoreError('SNAPSHOT_INVALID', `${r.invalid.map((n) => `"${n}"`).join(', ')} went Invalid while watched`, { hint: 'the store filled faster than it could grow, or could not grow: `snapstore status` says more' });
  }
}
