// One error family: every code is listed once, every code a source file
// throws is listed, and the CLI prints each as a message with its way out,
// never a stack trace.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeError } from '../../src/cli/report-error.js';
import { ERROR_CODES, SnapstoreError, type ErrorCode } from '../../src/errors.js';
import { ERRNO } from '../../src/linux/errno.js';
import { SyscallError } from '../../src/linux/errors.js';
import { dmError } from '../../src/dm/errors.js';
import { UnitError } from '../../src/units/units.js';
import { DmAbiError } from '../../src/dm/abi.js';
import { TableError } from '../../src/dm/targets.js';
import { StatusError } from '../../src/dm/status.js';

const sources = fs
  .readdirSync('src', { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => fs.readFileSync(path.join('src', f), 'utf8'))
  .join('\n');

describe('error codes', () => {
  it('every code thrown in src is in ERROR_CODES', () => {
    const used = new Set([...sources.matchAll(/(?:SnapstoreError|refuse|super)\(\s*'([A-Z][A-Z0-9_]+)'/g)].map((m) => m[1]!));
    expect(used.size).toBeGreaterThan(40);
    const missing = [...used].filter((c) => !(c in ERROR_CODES) && !(c in ERRNO));
    expect(missing).toEqual([]);
  });

  it('no plain Error or RangeError is thrown by the library', () => {
    expect(sources.match(/throw new (Range)?Error\(/g) ?? []).toEqual([]);
  });

  it.each(Object.keys(ERROR_CODES) as ErrorCode[])('%s is printed as a message, without a stack', (code) => {
    const r = describeError(new SnapstoreError(code, `something about ${code}`, { hint: 'the way out' }));
    expect(r).toEqual({ code, message: `something about ${code}`, hint: 'the way out' });
    expect(r.message).not.toMatch(/\n\s+at /);
  });

  it('errors of every class are SnapstoreErrors with a stable code', () => {
    const samples: SnapstoreError[] = [
      new SyscallError('open', ERRNO.ENOENT, '/x'),
      dmError('remove', 'd', ERRNO.EBUSY),
      new UnitError('bad'),
      new DmAbiError('dm_ioctl', 'name', 48, 'bad'),
      new TableError('bad'),
      new StatusError('bad'),
    ];
    expect(samples.map((e) => e instanceof SnapstoreError && e.code)).toEqual(['ENOENT', 'EBUSY', 'BAD_VALUE', 'DM_ABI', 'DM_TABLE', 'DM_STATUS']);
    for (const e of samples) expect(describeError(e).code).not.toBe('INTERNAL');
  });
});
