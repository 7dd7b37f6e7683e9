// README's troubleshooting table stays true to the code: the words it quotes
// from each message (in `code` style) are in the source as they are, and the
// exit code it gives is the one the CLI gives that error code.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT, exitClassOf } from '../../src/cli/exit-codes.js';
import { dmError } from '../../src/dm/errors.js';
import { ERROR_CODES, type ErrorCode, SnapstoreError } from '../../src/errors.js';
import { ERRNO } from '../../src/linux/errno.js';

const readme = fs.readFileSync('README.md', 'utf8');
const section = /\n## Troubleshooting\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
const rows = section
  .split('\n')
  .filter((l) => l.startsWith('| ') && !l.startsWith('| the message says') && !l.startsWith('| ---'))
  .map((l) => l.split(' | '));

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [fs.readFileSync(path.join(dir, e.name), 'utf8')] : []));
}
const src = sources('src').join('\n');

/** An error with that code, made as the code that reports it makes it. */
function thrown(code: string): SnapstoreError {
  if (code in ERROR_CODES) return new SnapstoreError(code as ErrorCode, 'x');
  // the errno codes of the table: device-mapper's open (a DmError), and a full filesystem
  if (code === 'ENODEV') return dmError('open', undefined, ERRNO.ENODEV);
  if (code === 'ENOSPC') return new SnapstoreError('ENOSPC', 'x');
  throw new Error(`the test does not know how ${code} is thrown`);
}

describe('README troubleshooting', () => {
  it('has rows', () => {
    expect(rows.length).toBeGreaterThan(10);
  });

  it.each(rows.map((r) => [r[0]!.slice(2), r] as const))('%s', (_message, [message, codeExit]) => {
    const quoted = [...message!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    expect(quoted.length).toBeGreaterThan(0);
    for (const q of quoted) expect(src.includes(q), `"${q}" is not in src/`).toBe(true);
    const m = /^`?([A-Z][A-Z0-9_]*)`?.*, (\d+)$/.exec(codeExit!.trim());
    expect(m, codeExit).not.toBeNull();
    expect(Number(m![2])).toBe(EXIT[exitClassOf(thrown(m![1]!))]);
  });
});
