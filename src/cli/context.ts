import type { Progress } from './progress.js';
import { progressBar } from './progress.js';

/**
 * What a command needs from the outside world: where to print, whether JSON
 * was asked for, whether a person is watching (progress bars). Commands take
 * this instead of touching process.stdout, so tests can capture them.
 */
export interface CommandContext {
  readonly json: boolean;
  readonly isTTY: boolean;
  /** One line of the command's result (stdout). */
  out(line: string): void;
  /** Bulk result text, written as it is (stdout, not with --json). */
  outRaw(data: Buffer): void;
  /** Narration, warnings and progress (stderr): never part of the result. */
  err(line: string): void;
  /** The machine-readable result, printed once by `--json`. */
  result(value: unknown): void;
  /** A progress bar for a person watching; does nothing otherwise. */
  progress(label: string, show: (n: number) => string): Progress;
}

export function processContext(json: boolean): CommandContext {
  return {
    json,
    isTTY: Boolean(process.stderr.isTTY),
    out: (line) => {
      if (!json) process.stdout.write(`${line}\n`);
    },
    outRaw: (data) => {
      if (!json) process.stdout.write(data);
    },
    err: (line) => process.stderr.write(`${line}\n`),
    result: (value) => {
      if (json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
    progress: (label, show) =>
      process.stderr.isTTY && !json ? progressBar(process.stderr, label, show) : { update() {}, stop() {} },
  };
}
