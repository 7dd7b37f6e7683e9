import type { CommandContext } from '../../src/cli/context.js';

/** A command context that records what a command prints, for tests of `run()`. */
export function capture(opts: { json?: boolean; isTTY?: boolean } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const results: unknown[] = [];
  /** set by a command whose result says it failed (exit 1) */
  const outcome = { failed: false };
  const ctx: CommandContext = {
    json: opts.json ?? false,
    isTTY: opts.isTTY ?? false,
    out: (l) => out.push(l),
    outRaw: (b) => out.push(b.toString()),
    err: (l) => err.push(l),
    result: (v) => results.push(v),
    jsonLine: (v) => results.push(v),
    // Like the real bar, shown only to a person watching.
    progress: (label, show) =>
      opts.isTTY && !opts.json
        ? { update: (done, total) => err.push(`${label} ${show(done)}/${show(total)}`), stop: () => err.push(`${label} done`) }
        : { update() {}, stop() {} },
    fail: () => {
      outcome.failed = true;
    },
  };
  return { ctx, out, err, results, outcome };
}
