// The pieces of the boot counter that need no lifecycle: the budget as the
// library takes it, its record in the snapshot's manifest (checked field by
// field when read), and the boot id it counts boots by.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bootId } from '../../src/linux/boot-id.js';
import { bootBudget } from '../../src/snapshot/boot-attempts.js';
import { decodeSnapshotManifest } from '../../src/snapshot/manifest.js';

const manifest = (bootAttempts: unknown) =>
  JSON.stringify({
    version: 1,
    name: 'u',
    mode: 'checkpoint',
    state: 'active',
    origin: { dmName: 'data', dmUuid: '', sectors: 8 },
    store: 'u',
    chunkSize: 4096,
    ...(bootAttempts === undefined ? {} : { bootAttempts }),
    createdAt: 'x',
    updatedAt: 'x',
    history: [],
  });

describe('bootBudget', () => {
  it.each([1, 3, 1000])('takes %s', (n) => expect(bootBudget(n)).toBe(n));
  it.each([0, -2, 2.5, Number.NaN, Infinity])('refuses %s as a usage error', (n) => {
    expect(() => bootBudget(n)).toThrow(expect.objectContaining({ code: 'BAD_VALUE', usage: true, message: `bootAttempts "${n}" is not a positive whole number of boots` }));
  });
});

describe('the budget in the manifest', () => {
  it('is read back as written; a manifest without one has none', () => {
    const b = { budget: 3, used: 2, lastBoot: '1f0e', spent: true };
    expect(decodeSnapshotManifest('f', manifest(b)).bootAttempts).toEqual(b);
    expect(decodeSnapshotManifest('f', manifest({ budget: 3, used: 0, lastBoot: '1f0e' })).bootAttempts).toEqual({ budget: 3, used: 0, lastBoot: '1f0e' });
    expect(decodeSnapshotManifest('f', manifest(undefined))).not.toHaveProperty('bootAttempts');
  });

  it.each([
    [{ budget: 0, used: 0, lastBoot: 'b' }, /0 of 0 boots used is not a count within a budget of at least 1/],
    [{ budget: 2, used: 3, lastBoot: 'b' }, /3 of 2 boots used/],
    [{ budget: 2, used: -1, lastBoot: 'b' }, /field "used" is -1, expected a number of boots/],
    [{ budget: 2, used: 1 }, /field "lastBoot" is undefined, expected a boot id/],
    [{ budget: 2, used: 1, lastBoot: 'b', spent: 'yes' }, /field "spent" is "yes", expected true or false/],
    [3, /field "bootAttempts" is 3, expected an object/],
  ])('refuses %j', (b, why) => {
    expect(() => decodeSnapshotManifest('f', manifest(b))).toThrow(expect.objectContaining({ code: 'MANIFEST_INVALID', message: expect.stringMatching(why) }));
  });
});

describe('bootId', () => {
  it('is the file\'s text without its newline; a missing file is the errno', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'boot-id-'));
    try {
      fs.writeFileSync(path.join(dir, 'boot_id'), '4f1d2c3a-0b5e-4c6d-9e8f-0a1b2c3d4e5f\n');
      expect(bootId(path.join(dir, 'boot_id'))).toBe('4f1d2c3a-0b5e-4c6d-9e8f-0a1b2c3d4e5f');
      expect(() => bootId(path.join(dir, 'none'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('on this machine: the kernel\'s, the same on every read', () => {
    expect(bootId()).toMatch(/^[0-9a-f-]{36}$/);
    expect(bootId()).toBe(bootId());
  });
});
