import type { CommandContext, Failure } from '../../src/cli/context.js';
import type { SnapstoreError } from '../../src/errors.js';
import { versioned } from '../../src/cli/json-output.js';

/**
 * A command context that records what a command prints, for tests of `run()`
 * and of `execute()` (the whole CLI in this process): its text and its
 * `--json` result both, whichever was asked for (`results` as `--json` would
 * print them, their schema version included); narration (`err`) as --quiet
 * leaves it; the error that ended it (`errors`).
 */
export function capture(opts: { json?: boolean; isTTY?: boolean; quiet?: boolean; colour?: boolean; signal?: AbortSignal } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const errors: string[] = [];
  const results: unknown[] = [];
  /** set by a command whose result says it failed (exit 1, or the class of the error it gave) */
  const outcome: { failed: boolean; error?: SnapstoreError } = { failed: false };
  const ctx: CommandContext & Failure = {
    json: opts.json ?? false,
    isTTY: opts.isTTY ?? false,
    colour: opts.colour ?? false,
    ...(opts.signal ? { signal: opts.signal } : {}),
    out: (l) => out.push(l),
    outRaw: (b) => out.push(b.toString()),
    err: (l) => {
      if (!opts.quiet) err.push(l);
    },
    error: (l) => errors.push(l),
    result: (schema, v) => results.push(versioned(schema, v)),
    jsonLine: (schema, v) => results.push(versioned(schema, v)),
    // Like the real bar, shown only to a person watching.
    progress: (label, show) =>
      opts.isTTY && !opts.json && !opts.quiet
        ? { update: (done, total) => err.push(`${label} ${show(done)}/${show(total)}`), stop: () => err.push(`${label} done`) }
        : { update() {}, stop() {} },
    fail: (error) => {
      outcome.failed = true;
      if (error) outcome.error = error;
    },
    get failure() {
      return outcome.failed ? (outcome.error ? { error: outcome.error } : {}) : undefined;
    },
  };
  return { ctx, out, err, errors, results, outcome };
}
