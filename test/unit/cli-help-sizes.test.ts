// The help of every command whose size options take shares and ranges lists the forms.
import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/program.js';
import { capture } from '../support/capture.js';

function help(...words: string[]): string {
  let cmd: Command = buildProgram(capture().ctx);
  for (const w of words) cmd = cmd.commands.find((c) => c.name() === w)!;
  let out = '';
  cmd.configureOutput({ writeOut: (s) => (out += s) });
  cmd.outputHelp();
  return out;
}

describe('help', () => {
  it.each([
    [['create'], ['--size']],
    [['store', 'create'], ['--size']],
    [['extend'], ['--by', '--to']],
    [['watch'], ['--max', '--min-step']],
  ])('%j: the options name the forms, and Sizes explains them', (words, options) => {
    const text = help(...words);
    const flat = text.replace(/\s+/g, ' ');
    // The option's own line (wrapped): no other option before "(see Sizes)".
    for (const o of options) expect(flat).toMatch(new RegExp(`${o} <size> (?:(?! --)[^])*?%(?:(?! --)[^])*?\\(see Sizes\\)`));
    expect(text).toMatch(/Sizes:\n {2}512, 64K, 1\.5G, 2MiB +binary units[\s\S]*10% +of the size of the filesystem holding the store[\s\S]*200%USED +of what that filesystem uses now[\s\S]*1G-20% +a range/);
  });

  it('--chunk-size says it is a plain size', () => {
    expect(help('store', 'create')).toMatch(/--chunk-size <size> +snapshot chunk size \(a power of two; a plain size\)/);
  });
});
