/**
 * The error every layer throws for an outcome the user must act on. The
 * message names the thing and the reason; `hint` says the way out; `code` is
 * stable for scripts (shown by `--json`).
 */
export class SnapstoreError extends Error {
  override name = 'SnapstoreError';
  readonly code: string;
  readonly hint: string | undefined;
  /** the command line was wrong (exit code 2), not the system */
  readonly usage: boolean;

  constructor(code: string, message: string, options: { hint?: string; cause?: unknown; usage?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.usage = options.usage ?? false;
  }
}
