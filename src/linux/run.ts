/**
 * Running another program (losetup, blkid, modprobe) through execa, loaded
 * on first use: most commands run none, and execa is the largest thing
 * `store list` would otherwise load at start-up.
 */
export interface ProgramResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `cmd` with `args` (no shell) and returns its exit code and output; never throws for a non-zero exit. */
export async function runProgram(cmd: string, args: readonly string[]): Promise<ProgramResult> {
  const { execa } = await import('execa');
  const r = await execa(cmd, args, { reject: false });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}
