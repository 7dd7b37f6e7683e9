/**
 * The one place that turns an outcome into an exit code: 0 done, 1 failed
 * (with the reason and the way out), 2 the command line was wrong, 128+N
 * stopped by signal N (130 SIGINT, 143 SIGTERM) after undoing its work or
 * stopping at a safe point, as it says.
 */
import { processContext } from './context.js';
import { buildProgram, UsageError } from './program.js';
import { describeError } from './report-error.js';

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  // A signal asks the command to stop at a safe point; a second one is not
  // needed and is ignored while it cleans up (the message says so).
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (stop.signal.aborted) return;
    stop.abort(sig);
    if (!json) process.stderr.write(`snapstore: ${sig}: stopping at the next safe point (what this command made is undone; a merge keeps what it committed); please wait\n`);
  };
  for (const sig of Object.keys(SIGNAL_EXIT)) process.on(sig, onSignal);
  const ctx = processContext(json, stop.signal);
  try {
    await buildProgram(ctx).parseAsync(argv, { from: 'user' });
    return ctx.failed ? 1 : 0;
  } catch (err) {
    if (err instanceof UsageError) {
      if (json && err.exitCode !== 0) {
        process.stdout.write(`${JSON.stringify({ error: { code: 'USAGE', message: err.message.replace(/^error: /, ''), hint: 'run the command with --help for its usage' } }, null, 2)}\n`);
      }
      return err.exitCode;
    }
    const report = describeError(err);
    if (json) {
      ctx.result({ error: report });
    } else {
      ctx.err(`snapstore: ${report.message}`);
      if (report.hint) ctx.err(`  way out: ${report.hint}`);
    }
    if (report.code === 'INTERRUPTED' && typeof stop.signal.reason === 'string') return SIGNAL_EXIT[stop.signal.reason] ?? 1;
    return report.usage ? 2 : 1;
  } finally {
    for (const sig of Object.keys(SIGNAL_EXIT)) process.off(sig, onSignal);
  }
}
