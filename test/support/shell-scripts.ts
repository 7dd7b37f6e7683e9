// Shared by the tests of the repo's shell scripts (boot/, examples/): each parses
// and is executable, and all pass shellcheck; a test that needs a tool the machine
// may lack is skipped without it, and fails with CI set.
import * as fs from 'node:fs';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

/** A test that needs something the machine may lack: skipped without it, failed with CI set (bash scripts/setup brings it). */
export function needs(missing: string | undefined, name: string, fn: () => Promise<void>): void {
  if (!missing) it(name, fn);
  else if (process.env.CI) it(name, () => expect.fail(`${missing}: run bash scripts/setup`));
  else it.skip(`${name} (${missing})`, fn);
}

const hasShellcheck = (await execa('shellcheck', ['--version'], { reject: false })).exitCode === 0;

/**
 * Each script parses (with bash or sh, by its #! line) and is executable; each
 * library it sources (`sourced`) parses; all pass `shellcheck -x`.
 */
export function describeShellScripts(title: string, scripts: readonly string[], sourced: readonly string[] = []): void {
  describe(title, () => {
    it.each(sourced)('%s parses (sourced, not run)', async (lib) => {
      expect((await execa('sh', ['-n', lib], { reject: false })).stderr).toBe('');
    });

    it.each(scripts)('%s parses, and is executable', async (script) => {
      const shell = fs.readFileSync(script, 'utf8').startsWith('#!/bin/bash') ? 'bash' : 'sh';
      expect((await execa(shell, ['-n', script], { reject: false })).stderr).toBe('');
      expect(fs.statSync(script).mode & 0o111).toBe(0o111);
    });

    needs(hasShellcheck ? undefined : 'shellcheck is not installed', 'every script passes shellcheck', async () => {
      const r = await execa('shellcheck', ['-x', ...scripts, ...sourced], { reject: false });
      expect(r.stdout).toBe('');
      expect(r.exitCode).toBe(0);
    });
  });
}
