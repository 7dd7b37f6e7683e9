// src/tree: two trees of real files compared (what snapstore diff reports
// between a checkpoint's old view and its origin), on plain folders.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SnapstoreError } from '../../src/errors.js';
import { diffTrees } from '../../src/tree/diff-trees.js';

let work: string;
let a: string;
let b: string;
beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-tree-'));
  a = path.join(work, 'old');
  b = path.join(work, 'new');
  fs.mkdirSync(a);
  fs.mkdirSync(b);
});
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

const HOUR_AGO = new Date(Date.now() - 3_600_000);

/** The same file in both trees: same bytes, mode and mtime. */
function both(rel: string, data: string | Buffer, mode = 0o644): void {
  for (const root of [a, b]) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), data, { mode });
    fs.chmodSync(path.join(root, rel), mode);
    fs.utimesSync(path.join(root, rel), HOUR_AGO, HOUR_AGO);
  }
}

/** The sets without the facts of changed entries. */
async function sets(options = {}) {
  const d = await diffTrees(a, b, options);
  return { added: d.added, removed: d.removed, changed: d.changed.map((c) => ({ path: c.path, changes: c.changes })) };
}

describe('diffTrees', () => {
  it('two equal trees: nothing', async () => {
    both('x', 'same');
    both('d/y', 'same too');
    fs.symlinkSync('x', path.join(a, 'l'));
    fs.symlinkSync('x', path.join(b, 'l'));
    expect(await sets()).toEqual({ added: [], removed: [], changed: [] });
  });

  it('added and removed, every entry below a folder listed, in byte order', async () => {
    both('keep', 'k');
    fs.writeFileSync(path.join(a, 'old-file'), 'o');
    fs.mkdirSync(path.join(a, 'old-dir/deep'), { recursive: true });
    fs.writeFileSync(path.join(a, 'old-dir/deep/f'), 'f');
    fs.writeFileSync(path.join(b, 'B-new'), 'n');
    fs.mkdirSync(path.join(b, 'new-dir'));
    fs.writeFileSync(path.join(b, 'new-dir/g'), 'g');
    expect(await sets()).toEqual({
      added: [
        { path: 'B-new', type: 'file' },
        { path: 'new-dir', type: 'directory' },
        { path: 'new-dir/g', type: 'file' },
      ],
      removed: [
        { path: 'old-dir', type: 'directory' },
        { path: 'old-dir/deep', type: 'directory' },
        { path: 'old-dir/deep/f', type: 'file' },
        { path: 'old-file', type: 'file' },
      ],
      changed: [],
    });
  });

  it('a rename is a removal and an addition', async () => {
    fs.writeFileSync(path.join(a, 'before'), 'r');
    fs.writeFileSync(path.join(b, 'after'), 'r');
    expect(await sets()).toEqual({ added: [{ path: 'after', type: 'file' }], removed: [{ path: 'before', type: 'file' }], changed: [] });
  });

  it('contents are read where the size is the same and the mtime not: a rewrite is seen, a touch is not', async () => {
    both('rewritten', 'aaaa');
    both('touched', 'bbbb');
    fs.writeFileSync(path.join(b, 'rewritten'), 'aaab');
    fs.utimesSync(path.join(b, 'touched'), new Date(), new Date());
    expect((await sets()).changed).toEqual([{ path: 'rewritten', changes: ['content'] }]);
  });

  it('same size and same mtime counts as unchanged, without reading (the quick check, as rsync and git make it)', async () => {
    both('kept-mtime', 'cccc');
    fs.writeFileSync(path.join(b, 'kept-mtime'), 'dddd');
    fs.utimesSync(path.join(b, 'kept-mtime'), HOUR_AGO, HOUR_AGO);
    expect((await sets()).changed).toEqual([]);
  });

  it('a difference in the last byte of a file of several read blocks', async () => {
    const big = Buffer.alloc(3 * (1 << 20) + 5, 7);
    both('big', big);
    big[big.length - 1] = 8;
    fs.writeFileSync(path.join(b, 'big'), big);
    expect((await sets()).changed).toEqual([{ path: 'big', changes: ['content'] }]);
  });

  it('size, mode, owner, symlink target, each named, with the old and new facts', async () => {
    both('grown', 'x');
    both('modes', 'm', 0o644);
    both('owned', 'o');
    fs.symlinkSync('grown', path.join(a, 'link'));
    fs.symlinkSync('modes', path.join(b, 'link'));
    fs.appendFileSync(path.join(b, 'grown'), 'more');
    fs.chmodSync(path.join(b, 'modes'), 0o4750);
    fs.chownSync(path.join(b, 'owned'), 1234, 5678);
    const d = await diffTrees(a, b);
    expect(d.changed.map((c) => [c.path, c.changes])).toEqual([
      ['grown', ['size']],
      ['link', ['target']],
      ['modes', ['mode']],
      ['owned', ['owner']],
    ]);
    expect(d.changed[0]).toMatchObject({ old: { size: 1 }, new: { size: 5 } });
    expect(d.changed[1]).toMatchObject({ type: 'symlink', old: { target: 'grown' }, new: { target: 'modes' } });
    expect(d.changed[2]).toMatchObject({ old: { mode: '0644' }, new: { mode: '4750' } });
    expect(d.changed[3]).toMatchObject({ old: { uid: 0, gid: 0 }, new: { uid: 1234, gid: 5678 } });
  });

  it('a folder whose mode changed is changed, and its entries compared', async () => {
    both('d/same', 's');
    both('d/other', 'o');
    fs.chmodSync(path.join(b, 'd'), 0o700);
    fs.appendFileSync(path.join(b, 'd/other'), '!');
    expect((await sets()).changed).toEqual([
      { path: 'd', changes: ['mode'] },
      { path: 'd/other', changes: ['size'] },
    ]);
  });

  it('a change of type: the entry changed, what was below the folder removed (or added)', async () => {
    fs.mkdirSync(path.join(a, 'was-dir'));
    fs.writeFileSync(path.join(a, 'was-dir/inside'), 'i');
    fs.writeFileSync(path.join(b, 'was-dir'), 'now a file');
    fs.writeFileSync(path.join(a, 'was-file'), 'f');
    fs.mkdirSync(path.join(b, 'was-file'));
    fs.writeFileSync(path.join(b, 'was-file/new'), 'n');
    const d = await diffTrees(a, b);
    expect(d.changed.map((c) => [c.path, c.changes, c.old.type, c.new.type])).toEqual([
      ['was-dir', ['type'], 'directory', 'file'],
      ['was-file', ['type'], 'file', 'directory'],
    ]);
    expect(d.removed).toEqual([{ path: 'was-dir/inside', type: 'file' }]);
    expect(d.added).toEqual([{ path: 'was-file/new', type: 'file' }]);
  });

  it('names that are not UTF-8 are found and written with \\xNN', async () => {
    const odd = Buffer.concat([Buffer.from(b), Buffer.from('/caf'), Buffer.from([0xe9])]);
    fs.writeFileSync(odd, 'latin-1 name');
    fs.writeFileSync(path.join(b, 'back\\slash'), 'b');
    fs.writeFileSync(path.join(b, 'é'), 'utf-8 name');
    expect((await sets()).added).toEqual([
      { path: 'back\\x5cslash', type: 'file' },
      { path: 'caf\\xe9', type: 'file' },
      { path: 'é', type: 'file' },
    ]);
  });

  it('a folder on another filesystem (a mount point) is compared, not entered', async () => {
    fs.mkdirSync(path.join(a, 'mnt'), { mode: 0o755 });
    fs.chmodSync(path.join(a, 'mnt'), 0o755);
    fs.mkdirSync(path.join(b, 'mnt'));
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'tmpfs', path.join(b, 'mnt')]);
    try {
      fs.writeFileSync(path.join(b, 'mnt/on-tmpfs'), 't');
      expect(await sets()).toEqual({ added: [], removed: [], changed: [] });
    } finally {
      await execa('umount', [path.join(b, 'mnt')]);
    }
  });

  it('entries left out (by inode: the store file of a snapshot) are as if not there, on either side', async () => {
    both('store', 'abc');
    fs.appendFileSync(path.join(b, 'store'), 'grown');
    fs.writeFileSync(path.join(a, 'old-store'), 'o');
    fs.writeFileSync(path.join(b, 'kept'), 'k');
    const inodes = new Set([a, b].flatMap((root) => ['store', 'old-store'].filter((f) => fs.existsSync(path.join(root, f))).map((f) => fs.statSync(path.join(root, f), { bigint: true }).ino)));
    const d = await diffTrees(a, b, { leaveOut: (e) => inodes.has(e.ino) });
    expect({ added: d.added, removed: d.removed, changed: d.changed }).toEqual({ added: [{ path: 'kept', type: 'file' }], removed: [], changed: [] });
  });

  it('stops at a safe point when its signal fired (INTERRUPTED)', async () => {
    both('f', 'x');
    const stop = new AbortController();
    stop.abort('SIGINT');
    const err = await diffTrees(a, b, { signal: stop.signal }).catch((e: SnapstoreError) => e);
    expect(err).toMatchObject({ code: 'INTERRUPTED', message: 'interrupted by SIGINT while comparing f' });
  });

  it('refuses a root that is not a folder', async () => {
    fs.writeFileSync(path.join(work, 'file'), 'f');
    const err = await diffTrees(path.join(work, 'file'), b).catch((e: SnapstoreError) => e);
    expect(err).toBeInstanceOf(SnapstoreError);
    expect(err).toMatchObject({ code: 'NOT_A_DIRECTORY', message: expect.stringMatching(/old tree's root .*file is a file/) });
    const gone = await diffTrees(a, path.join(work, 'none')).catch((e: SnapstoreError) => e);
    expect(gone).toMatchObject({ code: 'NOT_A_DIRECTORY', message: expect.stringMatching(/new tree's root .*none is not there/) });
  });
});
