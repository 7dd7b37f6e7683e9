/**
 * Running another program (losetup, blkid, modprobe) through execa, loaded
 * on first use: most commands run none, and execa is the largest thing
 * `store list` would otherwise load at start-up.
 */
export interface ProgramResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** killed after `timeoutMs` */
  readonly timedOut?: boolean;
}

/** Runs `cmd` with `args` (no shell) and returns its exit code and output; never throws for a non-zero exit. */
export async function runProgram(cmd: string, args: readonly string[], options: { readonly timeoutMs?: number } = {}): Promise<ProgramResult> {
  const { execa } = await import('execa');
  const r = await execa(cmd, args, { reject: false, ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}) });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), ...(r.timedOut ? { timedOut: true } : {}) };
}
