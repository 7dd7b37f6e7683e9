// Every help, `snapstore --help` and each command's at any depth: a purpose
// in one line at the top, and an example that runs that very command. The
// walk finds the commands in the program itself, so a command added without
// them fails here.
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { EXIT, EXIT_MEANING, type ExitClass } from '../../src/cli/exit-codes.js';
import { buildProgram } from '../../src/cli/program.js';
import { capture } from '../support/capture.js';

function helpOf(cmd: Command): string {
  let out = '';
  cmd.configureOutput({ writeOut: (s) => (out += s) });
  cmd.outputHelp();
  return out;
}

/** Every command under `cmd`, with the words that name it. */
function walk(cmd: Command, words: string[] = []): { words: string[]; cmd: Command }[] {
  return cmd.commands.flatMap((c) => [{ words: [...words, c.name()], cmd: c }, ...walk(c, [...words, c.name()])]);
}

const program = buildProgram(capture().ctx);
const all = [{ words: [] as string[], cmd: program }, ...walk(program)];

describe('every help', () => {
  it('walks the whole program (store and its subcommands included)', () => {
    const names = all.map((c) => c.words.join(' '));
    expect(names).toEqual(expect.arrayContaining(['', 'store', 'store create', 'create', 'doctor', 'help']));
    expect(names.length).toBeGreaterThan(20);
  });

  it.each(all.map((c) => [c.words.join(' ') || '(snapstore itself)', c] as const))('%s: its purpose in one line, first', (_name, { cmd }) => {
    const purpose = cmd.summary() || cmd.description();
    expect(purpose).toMatch(/^[^\n]{10,80}$/);
    // Right after the usage line: the first thing a reader sees.
    expect(helpOf(cmd)).toMatch(new RegExp(`^Usage: [^\\n]+\\n\\n${purpose.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n`));
  });

  it.each(all.map((c) => [c.words.join(' ') || '(snapstore itself)', c] as const))('%s: an example of that command', (_name, { words, cmd }) => {
    const help = helpOf(cmd);
    const section = /\nExamples?:\n((?: {2}\S.*\n?)+)/.exec(help);
    expect(section, help).not.toBeNull();
    const lines = section![1]!.trimEnd().split('\n').map((l) => l.trim());
    expect(lines.some((l) => l === `snapstore ${words.join(' ')}`.trimEnd() || l.startsWith(`snapstore ${words.join(' ')} `.replace(/ +$/, ' ')))).toBe(true);
  });
});

describe('snapstore --help', () => {
  it('lists every exit code with its meaning', () => {
    const help = helpOf(program);
    for (const c of Object.keys(EXIT) as ExitClass[]) expect(help).toContain(`  ${String(EXIT[c]).padEnd(4)} ${EXIT_MEANING[c]}\n`);
    expect(help).toMatch(/\n {2}130 +stopped by SIGINT/);
  });

  it('names --quiet and --json', () => {
    expect(helpOf(program)).toMatch(/-q, --quiet +print only the result and errors/);
  });
});
