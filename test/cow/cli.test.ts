import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { capture } from '../support/capture.js';
import { run as inspect } from '../../src/cli/commands/inspect.js';
import { run as merge } from '../../src/cli/commands/merge.js';
import { run as exportCmd } from '../../src/cli/commands/export.js';
import { buildStore, pattern, referenceMerge, sha } from './helpers.js';

let dir: string;
const olds = [4, 5, 6, 40, 300];
let originBytes: Buffer;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cow-cli-'));
  originBytes = pattern(512 * 4096, 9);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function images(tag: string) {
  const origin = path.join(dir, `origin-${tag}`);
  const cow = path.join(dir, `cow-${tag}`);
  fs.writeFileSync(origin, originBytes);
  fs.writeFileSync(cow, buildStore(olds).store.data);
  return { origin, cow, stateDir: dir };
}

describe('inspect', () => {
  it('prints the report, the list, and JSON', async () => {
    const { cow } = images('inspect');
    const c = capture();
    await inspect({ cow, stateDir: dir, exceptions: true }, c.ctx);
    expect(c.out.join('\n')).toMatch(/chunk size 4 KiB[\s\S]*valid: +yes[\s\S]*exceptions: +5 \(20 KiB of the origin changed\)[\s\S]*4 -> 2/);
    expect(c.results[0]).toMatchObject({ exceptions: 5, valid: true, chunkBytes: 4096 });
  });

  it('needs exactly one store: a path or --store NAME (a usage error naming both, never --cow)', async () => {
    const none = inspect({ stateDir: dir }, capture().ctx);
    await expect(none).rejects.toMatchObject({ code: 'USAGE_STORE', usage: true, message: 'inspect needs a store: a device or image path, or --store NAME' });
    const { cow } = images('inspect-both');
    await expect(inspect({ cow, store: 'x', stateDir: dir }, capture().ctx)).rejects.toMatchObject({ code: 'USAGE_STORE', usage: true, message: expect.stringMatching(/takes one store: .* or --store x, not both/) });
  });

  it('refuses an empty store as never written', async () => {
    const empty = path.join(dir, 'empty');
    fs.writeFileSync(empty, Buffer.alloc(65536));
    await expect(inspect({ cow: empty, stateDir: dir }, capture().ctx)).rejects.toMatchObject({ code: 'COW_NEVER_WRITTEN' });
  });
});

describe('merge --offline', () => {
  it('dry run writes nothing, then merges with a progress bar, then says it is done', async () => {
    const o = images('merge');
    const before = [sha(fs.readFileSync(o.origin)), sha(fs.readFileSync(o.cow))];
    const dry = capture();
    await merge({ offline: true, ...o, dryRun: true }, dry.ctx);
    expect(dry.out[0]).toMatch(/would write 5 chunks \(20 KiB\) to the origin in 3 writes; nothing was written/);
    expect([sha(fs.readFileSync(o.origin)), sha(fs.readFileSync(o.cow))]).toEqual(before);

    const tty = capture({ isTTY: true });
    await merge({ offline: true, ...o, verify: true }, tty.ctx);
    expect(tty.out[0]).toMatch(/^merged 5 chunks \(20 KiB\) in [\d.]+ s, [\d.]+ MB\/s, 3 writes, verified$/);
    expect(tty.err.slice(-2)).toEqual(['merging 5 chunks/5 chunks', 'merging done']);
    expect(fs.readFileSync(o.origin).equals(referenceMerge(originBytes, olds, 4096))).toBe(true);

    const again = capture({ json: true });
    await merge({ offline: true, ...o }, again.ctx);
    expect(again.results[0]).toMatchObject({ outcome: 'already-merged', totalExceptions: 5 });
  });

  it('refuses without --offline, and without exactly one store', async () => {
    const o = images('args');
    await expect(merge({ ...o }, capture().ctx)).rejects.toMatchObject({ code: 'MERGE_NEEDS_OFFLINE' });
    await expect(merge({ offline: true, origin: o.origin, stateDir: dir }, capture().ctx)).rejects.toMatchObject({ code: 'USAGE_STORE', usage: true });
    await expect(merge({ offline: true, ...o, store: 'x' }, capture().ctx)).rejects.toMatchObject({ code: 'USAGE_STORE', usage: true });
  });

  it('refuses an Invalid store without --force, untouched, and merges it with --force and a warning', async () => {
    const o = images('invalid');
    const fd = fs.openSync(o.cow, 'r+');
    fs.writeSync(fd, Buffer.alloc(4), 0, 4, 4);
    fs.closeSync(fd);
    const before = [sha(fs.readFileSync(o.origin)), sha(fs.readFileSync(o.cow))];
    await expect(merge({ offline: true, ...o }, capture().ctx)).rejects.toMatchObject({ code: 'COW_INVALID' });
    expect([sha(fs.readFileSync(o.origin)), sha(fs.readFileSync(o.cow))]).toEqual(before);
    const c = capture();
    await merge({ offline: true, ...o, force: true }, c.ctx);
    expect(c.err[0]).toMatch(/--force/);
  });
});

describe('export', () => {
  it("writes the snapshot's view to a new image, changing neither input", async () => {
    const o = images('export');
    const before = [sha(fs.readFileSync(o.origin)), sha(fs.readFileSync(o.cow))];
    const out = path.join(dir, 'view.img');
    const c = capture();
    await exportCmd({ origin: o.origin, cow: o.cow, stateDir: dir, out }, c.ctx);
    expect(c.out[0]).toMatch(/5 exceptions applied/);
    expect(fs.readFileSync(out).equals(referenceMerge(originBytes, olds, 4096))).toBe(true);
    expect([sha(fs.readFileSync(o.origin)), sha(fs.readFileSync(o.cow))]).toEqual(before);
  });

  it('refuses to write over an input or an existing file', async () => {
    const o = images('export2');
    await expect(exportCmd({ origin: o.origin, cow: o.cow, stateDir: dir, out: o.origin }, capture().ctx)).rejects.toMatchObject({ code: 'EXPORT_OVERWRITES_INPUT' });
    const existing = path.join(dir, 'existing');
    fs.writeFileSync(existing, 'x');
    await expect(exportCmd({ origin: o.origin, cow: o.cow, stateDir: dir, out: existing }, capture().ctx)).rejects.toMatchObject({ code: 'EXPORT_EXISTS' });
    expect(fs.readFileSync(existing, 'utf8')).toBe('x');
  });

  it('leaves no half image behind when it fails, so a rerun can go on', async () => {
    const o = images('export3');
    const garbage = path.join(dir, 'garbage');
    fs.writeFileSync(garbage, Buffer.alloc(65536, 7));
    const out = path.join(dir, 'view3.img');
    await expect(exportCmd({ origin: o.origin, cow: garbage, stateDir: dir, out }, capture().ctx)).rejects.toMatchObject({ code: 'COW_BAD_MAGIC' });
    expect(fs.readdirSync(dir).filter((f) => f.includes('view3'))).toEqual([]);
    await exportCmd({ origin: o.origin, cow: o.cow, stateDir: dir, out }, capture().ctx);
    expect(fs.existsSync(out)).toBe(true);
  });
});
