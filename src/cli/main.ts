/**
 * The one place that turns an outcome into an exit code (the table is in
 * exit-codes.ts): 0 done, 1 failed, 2 the command line was wrong, 3-7 the
 * kind of failure a script can act on, 128+N stopped by signal N (130
 * SIGINT, 143 SIGTERM) after undoing its work or stopping at a safe point,
 * as it says.
 */
import { type CommandContext, type Failure, processContext } from './context.js';
import { EXIT, exitClassOf } from './exit-codes.js';
import { buildProgram, UsageError } from './program.js';
import { describeError, type ErrorReport } from './report-error.js';

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/** Whether a global flag was given, before or after the command (commander takes it in both places). */
const flag = (argv: readonly string[], ...names: string[]) => argv.some((a) => names.includes(a));

export async function main(argv: string[]): Promise<number> {
  const json = flag(argv, '--json');
  // A signal asks the command to stop at a safe point; a second one is not
  // needed and is ignored while it cleans up (the message says so).
  const stop = new AbortController();
  const ctx = processContext({ json, quiet: flag(argv, '--quiet', '-q'), signal: stop.signal });
  const onSignal = (sig: NodeJS.Signals) => {
    if (stop.signal.aborted) return;
    stop.abort(sig);
    if (!json) ctx.err(`snapstore: ${sig}: stopping at the next safe point (what this command made is undone; a merge keeps what it committed); please wait`);
  };
  for (const sig of Object.keys(SIGNAL_EXIT)) process.on(sig, onSignal);
  try {
    return await execute(argv, ctx);
  } finally {
    for (const sig of Object.keys(SIGNAL_EXIT)) process.off(sig, onSignal);
  }
}

/**
 * Runs one command line in `ctx` and returns its exit code; reports an
 * error (as text, or as JSON with --json). Tests run the CLI through here
 * with a context that records what it prints.
 */
export async function execute(argv: string[], ctx: CommandContext & Failure): Promise<number> {
  try {
    await buildProgram(ctx).parseAsync(argv, { from: 'user' });
    const failure = ctx.failure;
    if (!failure) return EXIT.done;
    if (!failure.error) return EXIT.failed;
    // The result, printed already, says what failed; the text says it again as an error.
    if (!ctx.json) printError(ctx, describeError(failure.error));
    return EXIT[exitClassOf(failure.error)];
  } catch (err) {
    if (err instanceof UsageError) {
      // commander printed the text itself (not with --json); help and --version end here too, with 0.
      if (err.exitCode !== 0) ctx.result('error', { error: { code: 'USAGE', message: err.message.replace(/^error: /, ''), hint: 'run the command with --help for its usage' } });
      return err.exitCode;
    }
    const report = describeError(err);
    if (ctx.json) ctx.result('error', { error: { code: report.code, message: report.message, ...(report.hint ? { hint: report.hint } : {}) } });
    else printError(ctx, report);
    const reason = ctx.signal?.reason;
    if (report.code === 'INTERRUPTED' && typeof reason === 'string' && SIGNAL_EXIT[reason] !== undefined) return SIGNAL_EXIT[reason];
    return EXIT[exitClassOf(err)];
  }
}

function printError(ctx: CommandContext, report: ErrorReport): void {
  ctx.error(`snapstore: ${report.message}`);
  if (report.hint) ctx.error(`  way out: ${report.hint}`);
}
