/**
 * The one place that turns an outcome into an exit code: 0 done, 1 failed
 * (with the reason and the way out), 2 the command line was wrong.
 */
import { processContext } from './context.js';
import { buildProgram, UsageError } from './program.js';
import { describeError } from './report-error.js';

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const ctx = processContext(json);
  try {
    await buildProgram(ctx).parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      if (json && err.exitCode !== 0) process.stdout.write(`${JSON.stringify({ error: { code: 'USAGE', message: err.message.replace(/^error: /, '') } }, null, 2)}\n`);
      return err.exitCode;
    }
    const report = describeError(err);
    if (json) {
      process.stdout.write(`${JSON.stringify({ error: report }, null, 2)}\n`);
    } else {
      ctx.err(`snapstore: ${report.message}`);
      if (report.hint) ctx.err(`  way out: ${report.hint}`);
    }
    return report.usage ? 2 : 1;
  }
}
