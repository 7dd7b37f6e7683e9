import type { Progress } from './progress.js';
import { progressBar } from './progress.js';

/**
 * What a command needs from the outside world: where to print, whether JSON
 * was asked for, whether a person is watching (progress bars), and the
 * signal that asks it to stop (SIGINT, SIGTERM). Commands take this instead
 * of touching process.stdout, so tests can capture them.
 */
export interface CommandContext {
  readonly json: boolean;
  readonly isTTY: boolean;
  /** Fires on SIGINT or SIGTERM (its reason names the signal): stop at a safe point. */
  readonly signal?: AbortSignal;
  /** One line of the command's result (stdout). */
  out(line: string): void;
  /** Bulk result text, written as it is (stdout, not with --json). */
  outRaw(data: Buffer): void;
  /** Narration, warnings and progress (stderr): never part of the result. */
  err(line: string): void;
  /** The machine-readable result, printed once by `--json`. */
  result(value: unknown): void;
  /** One record of a stream (a log line), printed as one compact JSON line by `--json`. */
  jsonLine(value: unknown): void;
  /** A progress bar for a person watching; does nothing otherwise. */
  progress(label: string, show: (n: number) => string): Progress;
  /** The result, printed whole, says the command failed (doctor: a check failed): exit 1, and nothing more is printed. */
  fail(): void;
}

/**
 * The context of a real process. Output to a pipe that was closed (`| head`)
 * ends quietly: further output is dropped, the command's work is not cut short.
 */
export function processContext(json: boolean, signal?: AbortSignal): CommandContext & { readonly failed: boolean } {
  let closed = false;
  let failed = false;
  const ignoreEpipe = (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') closed = true;
    else throw err;
  };
  process.stdout.on('error', ignoreEpipe);
  process.stderr.on('error', ignoreEpipe);
  const write = (stream: NodeJS.WriteStream, data: string | Buffer) => {
    if (!closed) stream.write(data);
  };
  return {
    json,
    isTTY: Boolean(process.stderr.isTTY),
    ...(signal ? { signal } : {}),
    out: (line) => {
      if (!json) write(process.stdout, `${line}\n`);
    },
    outRaw: (data) => {
      if (!json) write(process.stdout, data);
    },
    err: (line) => write(process.stderr, `${line}\n`),
    result: (value) => {
      if (json) write(process.stdout, `${JSON.stringify(value, null, 2)}\n`);
    },
    jsonLine: (value) => {
      if (json) write(process.stdout, `${JSON.stringify(value)}\n`);
    },
    progress: (label, show) => (process.stderr.isTTY && !json ? progressBar(process.stderr, label, show) : { update() {}, stop() {} }),
    fail: () => {
      failed = true;
    },
    get failed() {
      return failed;
    },
  };
}
