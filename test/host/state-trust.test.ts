// snapstore runs as root and acts on what its state directory says (delete
// this file, read or write these blocks). A state directory, a folder in it
// or above it, or a file in it that a user other than root could have
// written is refused before anything in it is believed: STATE_UNTRUSTED,
// naming the path, and nothing is touched (issue 14).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapstore } from './cli.js';
import type { LoopFs } from './loopfs.js';
import { listTree, makeLoopFs } from './loopfs.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { treeSnapshot } from '../support/tree.js';

const NOBODY = 65534;

const sha = (p: string) => createHash('sha256').update(fs.readFileSync(p)).digest('hex');
const isImmutable = async (p: string) => /^\S*i\S*\s/.test((await execa('lsattr', ['-d', p])).stdout);

describe('an untrusted state directory is refused, nothing touched', () => {
  let lfs: LoopFs;
  let base: string;
  /** a real store's manifest, as snapstore wrote it */
  let manifest: string;
  let storeFile: string;
  let origin: string;

  beforeAll(async () => {
    lfs = await makeLoopFs('ext4', 64);
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-trust-'));
    const trusted = path.join(base, 'trusted');
    storeFile = path.join(lfs.storeDir, 'v');
    const r = await snapstore(['store', 'create', 'v', '--store', storeFile, '--size', '4M', '--state-dir', trusted]);
    expect(r.exitCode).toBe(0);
    manifest = fs.readFileSync(path.join(trusted, 'stores', 'v.json'), 'utf8');
    origin = path.join(base, 'origin.img');
    fs.writeFileSync(origin, Buffer.alloc(4 << 20, 0x5a));
  });
  afterAll(async () => {
    await lfs?.cleanup();
    fs.rmSync(base, { recursive: true, force: true });
  });

  /** A state directory holding store v's manifest (root's, 0600), then bent into `shape`; returns the path the refusal must name. */
  function stateDir(name: string, shape: (dir: string) => string): { dir: string; names: string } {
    const parent = fs.mkdtempSync(path.join(base, `${name}-`));
    const dir = path.join(parent, 'state');
    fs.mkdirSync(path.join(dir, 'stores'), { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(dir, 'stores', 'v.json'), manifest, { mode: 0o600 });
    return { dir, names: shape(dir) };
  }

  /** [label, shape, refused by every command (false: by those that read the manifest: a 0644 one can be read, not changed, by others)] */
  const SHAPES: [string, (dir: string) => string, boolean?][] = [
    ['the state directory owned by uid 65534', (dir) => (fs.chownSync(dir, NOBODY, NOBODY), dir)],
    ['the state directory mode 0777', (dir) => (fs.chmodSync(dir, 0o777), dir)],
    [
      'a folder above it mode 0777 without the sticky bit',
      (dir) => {
        const parent = path.dirname(dir);
        fs.chmodSync(parent, 0o777);
        return parent;
      },
    ],
    ['stores/ owned by uid 65534', (dir) => (fs.chownSync(path.join(dir, 'stores'), NOBODY, NOBODY), path.join(dir, 'stores'))],
    ['stores/ writable by its group', (dir) => (fs.chmodSync(path.join(dir, 'stores'), 0o770), path.join(dir, 'stores'))],
    ['the manifest owned by uid 65534', (dir) => (fs.chownSync(path.join(dir, 'stores', 'v.json'), NOBODY, NOBODY), path.join(dir, 'stores', 'v.json'))],
    ['the manifest mode 0664', (dir) => (fs.chmodSync(path.join(dir, 'stores', 'v.json'), 0o664), path.join(dir, 'stores', 'v.json'))],
    ['the manifest mode 0644', (dir) => (fs.chmodSync(path.join(dir, 'stores', 'v.json'), 0o644), path.join(dir, 'stores', 'v.json')), false],
    [
      'the manifest a symlink (to a root-owned 0600 copy)',
      (dir) => {
        const real = path.join(path.dirname(dir), 'elsewhere.json');
        fs.writeFileSync(real, manifest, { mode: 0o600 });
        const m = path.join(dir, 'stores', 'v.json');
        fs.rmSync(m);
        fs.symlinkSync(real, m);
        return m;
      },
    ],
    [
      'the lock file a symlink',
      (dir) => {
        const target = path.join(path.dirname(dir), 'target');
        fs.writeFileSync(target, 'root file\n', { mode: 0o600 });
        fs.symlinkSync(target, path.join(dir, 'lock'));
        return path.join(dir, 'lock');
      },
    ],
  ];

  it.each(SHAPES)('%s', async (label, shape, everyCommand = true) => {
    const { dir, names } = stateDir(label.replace(/\W+/g, '-'), shape);
    const parent = path.dirname(dir);
    const before = treeSnapshot(parent);
    const storeBefore = sha(storeFile);
    const originBefore = sha(origin);
    const commands = [
      ['store', 'list'],
      ['store', 'verify', 'v'],
      ['store', 'delete', 'v'],
      ['store', 'attach', 'v'],
      ['store', 'detach', 'v'],
      ...(everyCommand ? [['store', 'create', 'w', '--store', path.join(lfs.storeDir, 'w'), '--size', '4M']] : []),
      ['inspect', '--store', 'v'],
      ['merge', '--offline', '--origin', origin, '--store', 'v'],
      ['export', path.join(base, 'view.img'), '--origin', origin, '--store', 'v'],
    ];
    for (const args of commands) {
      const r = await snapstore([...args, '--state-dir', dir, '--json']);
      expect(r.exitCode, `${args.join(' ')}: ${r.stdout}`).toBe(EXIT.refused);
      const e = JSON.parse(r.stdout).error;
      expect(e.code, args.join(' ')).toBe('STATE_UNTRUSTED');
      expect(e.message).toMatch(new RegExp(`^${names} `));
      expect(e.hint).toEqual(expect.any(String));
    }
    const t = await snapstore(['store', 'delete', 'v', '--state-dir', dir]);
    expect(t.stderr).toMatch(new RegExp(`^snapstore: ${names} .*\\n  way out: `));
    // A state directory trusted but for what one file says may get its lock (made by the first command that takes it).
    expect(treeSnapshot(parent).filter((e) => everyCommand || !e.startsWith('state/lock '))).toEqual(before);
    expect(sha(storeFile)).toBe(storeBefore);
    expect(await isImmutable(storeFile)).toBe(true);
    expect(sha(origin)).toBe(originBefore);
    expect(listTree(lfs.storeDir)).toEqual(['v']);
    expect(fs.existsSync(path.join(base, 'view.img'))).toBe(false);
  });

  it("the issue's exploit: a manifest another user planted names a root-owned file; store delete does not delete it", async () => {
    // A root-owned 0644 file another user can read, so its inode and generation are known.
    const victim = path.join(lfs.storeDir, 'victim');
    const trusted = path.join(base, 'victim-state');
    expect((await snapstore(['store', 'create', 'victim', '--store', victim, '--size', '4M', '--state-dir', trusted])).exitCode).toBe(0);
    await execa('chattr', ['-i', victim]);
    fs.chmodSync(victim, 0o644);
    fs.writeFileSync(victim, 'precious\n');
    const planted = fs.readFileSync(path.join(trusted, 'stores', 'victim.json'), 'utf8');
    fs.rmSync(trusted, { recursive: true });

    // The other user made the state directory in advance, under /tmp, before root first used it.
    const evil = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-evil-'));
    fs.mkdirSync(path.join(evil, 'stores'), { mode: 0o700 });
    fs.writeFileSync(path.join(evil, 'stores', 'victim.json'), planted, { mode: 0o600 });
    for (const p of [evil, path.join(evil, 'stores'), path.join(evil, 'stores', 'victim.json')]) fs.chownSync(p, NOBODY, NOBODY);
    try {
      const before = treeSnapshot(evil);
      const r = await snapstore(['store', 'delete', 'victim', '--state-dir', evil]);
      expect(r.exitCode).toBe(EXIT.refused);
      expect(r.stderr).toMatch(new RegExp(`^snapstore: ${evil} is owned by uid ${NOBODY}, not root; snapstore acts as root on what the state directory holds, so it does not trust it`));
      expect(r.stdout).not.toMatch(/deleted/);
      expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
      expect(treeSnapshot(evil)).toEqual(before);

      // Root's own state directory left writable by others: the same file planted there.
      fs.chownSync(evil, 0, 0);
      fs.chmodSync(evil, 0o777);
      const r2 = await snapstore(['store', 'delete', 'victim', '--state-dir', evil]);
      expect(r2.exitCode).toBe(EXIT.refused);
      expect(r2.stderr).toMatch(new RegExp(`^snapstore: ${evil} is writable by its group and others \\(mode 777\\)`));
      expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
    } finally {
      fs.rmSync(evil, { recursive: true, force: true });
      fs.rmSync(victim, { force: true });
    }
  });
});
