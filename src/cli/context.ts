import type { SnapstoreError } from '../errors.js';
import type { Progress } from './progress.js';
import { progressBar } from './progress.js';
import { colourWanted } from './colour.js';
import { type JsonSchemaName, versioned } from './json-output.js';

/**
 * What a command needs from the outside world: where to print, whether JSON
 * was asked for, whether a person is watching (progress bars, colour), and
 * the signal that asks it to stop (SIGINT, SIGTERM). Commands take this
 * instead of touching process.stdout, so tests can capture them.
 */
export interface CommandContext {
  readonly json: boolean;
  readonly isTTY: boolean;
  /** Text output may carry colour: stdout is a terminal, NO_COLOR is not set, no --json. */
  readonly colour: boolean;
  /** Fires on SIGINT or SIGTERM (its reason names the signal): stop at a safe point. */
  readonly signal?: AbortSignal;
  /** One line of the command's result (stdout). */
  out(line: string): void;
  /** Bulk result text, written as it is (stdout, not with --json). */
  outRaw(data: Buffer): void;
  /** Narration, warnings and progress (stderr): never part of the result; nothing with --quiet. */
  err(line: string): void;
  /** The error that ends the command (stderr): printed even with --quiet. */
  error(line: string): void;
  /** The machine-readable result, printed once by `--json`, with the version of its schema. */
  result(schema: JsonSchemaName, value: object): void;
  /** One record of a stream (a log line), printed as one compact JSON line by `--json`, with the version of its schema. */
  jsonLine(schema: JsonSchemaName, value: object): void;
  /** A progress bar for a person watching; does nothing otherwise. */
  progress(label: string, show: (n: number) => string): Progress;
  /**
   * The result, printed whole, says the command failed (doctor: a check
   * failed: exit 1). Given the error that says why (activate: a rollback
   * lost), its text is printed as any error's, without --json (the result
   * says it there), and its class gives the exit code.
   */
  fail(error?: SnapstoreError): void;
}

/** What main() reads after the command: whether it said it failed, and why. */
export interface Failure {
  readonly failure: { readonly error?: SnapstoreError } | undefined;
}

export interface ProcessContextOptions {
  readonly json: boolean;
  /** --quiet: no narration, warnings or progress; the result and errors only */
  readonly quiet?: boolean;
  readonly signal?: AbortSignal | undefined;
  /** the process's own, unless a test gives others */
  readonly stdout?: NodeJS.WriteStream;
  readonly stderr?: NodeJS.WriteStream;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * The context of a real process. Output to a pipe that was closed (`| head`)
 * ends quietly: further output is dropped, the command's work is not cut short.
 */
export function processContext(options: ProcessContextOptions): CommandContext & Failure {
  const { json, quiet = false, signal, stdout = process.stdout, stderr = process.stderr, env = process.env } = options;
  let closed = false;
  let failure: Failure['failure'];
  const ignoreEpipe = (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') closed = true;
    else throw err;
  };
  stdout.on('error', ignoreEpipe);
  stderr.on('error', ignoreEpipe);
  const write = (stream: NodeJS.WriteStream, data: string | Buffer) => {
    if (!closed) stream.write(data);
  };
  // A bar redraws one line in place: only for a person at a terminal, and not when they asked for quiet.
  const showBars = Boolean(stderr.isTTY) && !json && !quiet;
  // After JSON lines (watch), a result (its error) is one line too: the stream stays one JSON value a line.
  let streaming = false;
  return {
    json,
    isTTY: Boolean(stderr.isTTY),
    colour: !json && colourWanted(stdout, env),
    ...(signal ? { signal } : {}),
    out: (line) => {
      if (!json) write(stdout, `${line}\n`);
    },
    outRaw: (data) => {
      if (!json) write(stdout, data);
    },
    err: (line) => {
      if (!quiet) write(stderr, `${line}\n`);
    },
    error: (line) => write(stderr, `${line}\n`),
    result: (schema, value) => {
      if (json) write(stdout, `${JSON.stringify(versioned(schema, value), null, streaming ? undefined : 2)}\n`);
    },
    jsonLine: (schema, value) => {
      streaming = true;
      if (json) write(stdout, `${JSON.stringify(versioned(schema, value))}\n`);
    },
    progress: (label, show) => (showBars ? progressBar(stderr, label, show) : { update() {}, stop() {} }),
    fail: (error) => {
      failure = error ? { error } : {};
    },
    get failure() {
      return failure;
    },
  };
}
