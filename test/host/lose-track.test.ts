// Two ways issue 14 lost track of data. `store delete` on a store whose
// filesystem was not mounted dropped the manifest of a file that was still
// there; `merge --offline` took the same file as origin and store. Both are
// refused now, and nothing is changed.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapstore } from './cli.js';
import type { LoopFs } from './loopfs.js';
import { makeLoopFs } from './loopfs.js';
import { buildStore } from '../cow/helpers.js';
import { EXIT } from '../../src/cli/exit-codes.js';

const sha = (p: string) => createHash('sha256').update(fs.readFileSync(p)).digest('hex');
const isImmutable = async (p: string) => /^\S*i\S*\s/.test((await execa('lsattr', ['-d', p])).stdout);

describe('delete and verify while the store filesystem is not here', () => {
  let lfs: LoopFs;
  let stateDir: string;
  let fsUuid: string;
  const files: Record<string, string> = {};

  beforeAll(async () => {
    lfs = await makeLoopFs('ext4', 64);
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-state-'));
    // One store in a folder of the filesystem, one at its top (whose folder,
    // the mount point, is still there when it is unmounted).
    files.deep = path.join(lfs.storeDir, 'deep');
    files.top = path.join(lfs.mountpoint, 'top');
    for (const [name, file] of Object.entries(files)) {
      const r = await snapstore(['store', 'create', name, '--store', file, '--size', '4M', '--state-dir', stateDir]);
      expect(r.exitCode).toBe(0);
    }
    fsUuid = JSON.parse(fs.readFileSync(path.join(stateDir, 'stores', 'deep.json'), 'utf8')).device.fsUuid;
    expect(fsUuid).toMatch(/^[0-9a-f-]{36}$/);
  });
  afterAll(async () => {
    await lfs?.cleanup();
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  async function refusedWhileAbsent(why: RegExp): Promise<void> {
    const manifests = fs.readdirSync(path.join(stateDir, 'stores')).sort();
    for (const [name, file] of Object.entries(files)) {
      for (const cmd of ['delete', 'verify']) {
        const r = await snapstore(['store', cmd, name, '--state-dir', stateDir, '--json']);
        expect(r.exitCode, `${cmd} ${name}`).toBe(EXIT.notFound);
        const e = JSON.parse(r.stdout).error;
        expect(e).toMatchObject({ code: 'STORE_FS_ABSENT', hint: expect.stringMatching(/mount that filesystem.*manifest is kept/) });
        expect(e.message).toContain(file);
        expect(e.message).toContain(`filesystem UUID ${fsUuid}`);
        expect(e.message).toMatch(why);
      }
    }
    expect(fs.readdirSync(path.join(stateDir, 'stores')).sort()).toEqual(manifests);
    const list = JSON.parse((await snapstore(['store', 'list', '--state-dir', stateDir, '--json'])).stdout).stores;
    expect(list.map((s: { name: string; state: string }) => [s.name, s.state])).toEqual([
      ['deep', 'file-missing'],
      ['top', 'file-missing'],
    ]);
  }

  it('unmounted: refused, naming the filesystem UUID, manifests kept; after the remount the files are there, still pinned, and verify', async () => {
    await execa('umount', [lfs.mountpoint]);
    await refusedWhileAbsent(/is not mounted there/);
    await execa('mount', [lfs.device!, lfs.mountpoint]);
    for (const file of Object.values(files)) {
      expect(fs.existsSync(file)).toBe(true);
      expect(await isImmutable(file)).toBe(true);
    }
    for (const name of Object.keys(files)) {
      const v = await snapstore(['store', 'verify', name, '--state-dir', stateDir]);
      expect(v.exitCode).toBe(0);
    }
  });

  it('its device gone: refused the same way', async () => {
    await execa('umount', [lfs.mountpoint]);
    await execa('losetup', ['-d', lfs.device!]);
    try {
      // (", and is on no device present now" follows, unless blkid's cache still names the detached loop device)
      await refusedWhileAbsent(/is not mounted there/);
    } finally {
      const image = path.join(path.dirname(lfs.mountpoint), 'fs.img');
      await execa('losetup', [lfs.device!, image]);
      await execa('mount', [lfs.device!, lfs.mountpoint]);
    }
  });

  it('with the filesystem back, delete removes files and manifests; a file gone from a mounted filesystem is said to be gone', async () => {
    const d = await snapstore(['store', 'delete', 'deep', '--state-dir', stateDir]);
    expect(d.exitCode).toBe(0);
    expect(d.stdout).toMatch(/deleted store "deep": .* removed, manifest removed/);
    expect(fs.existsSync(files.deep!)).toBe(false);

    await execa('chattr', ['-i', files.top!]);
    fs.unlinkSync(files.top!);
    const v = await snapstore(['store', 'verify', 'top', '--state-dir', stateDir]);
    expect(v.exitCode).toBe(EXIT.refused);
    expect(v.stderr).toMatch(/is gone from its filesystem/);
    const g = await snapstore(['store', 'delete', 'top', '--state-dir', stateDir]);
    expect(g.exitCode).toBe(0);
    expect(g.stdout).toMatch(/was already gone from its filesystem/);
    expect(fs.readdirSync(path.join(stateDir, 'stores'))).toEqual([]);
  });
});

describe('merge --offline with origin and store the same blocks', () => {
  let dir: string;
  let image: string;
  const loops: string[] = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-same-'));
    // A valid store of 512 chunks whose exceptions lie inside its own size: a merge of it into itself would go ahead.
    image = path.join(dir, 'x.img');
    const { store } = buildStore([4, 5, 6, 40, 300], { storeChunks: 512 });
    fs.writeFileSync(image, store.data);
    fs.symlinkSync(image, path.join(dir, 'link'));
    fs.linkSync(image, path.join(dir, 'hard'));
    loops.push((await execa('losetup', ['--find', '--show', image])).stdout.trim());
  });
  afterAll(async () => {
    for (const l of loops) await execa('losetup', ['-d', l], { reject: false });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['the same path', () => [image, image]],
    ['a symlink', () => [path.join(dir, 'link'), image]],
    ['a hard link', () => [path.join(dir, 'hard'), image]],
    ['a loop device over it (as origin)', () => [loops[0]!, image]],
    ['a loop device over it (as store)', () => [image, loops[0]!]],
  ])('%s: SAME_DEVICE, nothing written', async (_label, pair) => {
    const [origin, cow] = pair();
    const before = sha(image);
    for (const extra of [[], ['--dry-run']]) {
      const r = await snapstore(['merge', '--offline', '--origin', origin!, '--cow', cow!, '--state-dir', dir, '--json', ...extra]);
      expect(r.exitCode).toBe(EXIT.refused);
      expect(JSON.parse(r.stdout).error).toMatchObject({
        code: 'SAME_DEVICE',
        message: expect.stringMatching(/(are the same file|share blocks).*: nothing was written/),
        hint: expect.stringMatching(/two different devices or images/),
      });
    }
    expect(sha(image)).toBe(before);
  });

  it('a copy is another image: merged', async () => {
    const copy = path.join(dir, 'copy');
    fs.copyFileSync(image, copy);
    const r = await snapstore(['merge', '--offline', '--origin', copy, '--cow', image, '--state-dir', dir]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^merged 5 chunks/);
  });
});

describe('detach releases only the loop device attach recorded', () => {
  let lfs: LoopFs;
  let stateDir: string;
  let file: string;
  const loops: string[] = [];

  beforeAll(async () => {
    lfs = await makeLoopFs('ext4', 64);
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-state-'));
    file = path.join(lfs.storeDir, 'd');
    expect((await snapstore(['store', 'create', 'd', '--store', file, '--size', '4M', '--state-dir', stateDir])).exitCode).toBe(0);
  });
  afterAll(async () => {
    for (const l of loops) await execa('losetup', ['-d', l], { reject: false });
    await lfs?.cleanup();
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it("a loop device the user set up over the store file is left alone, and said to be", async () => {
    const mine = (await execa('losetup', ['--find', '--show', '--read-only', file])).stdout.trim();
    loops.push(mine);
    const r = await snapstore(['store', 'detach', 'd', '--state-dir', stateDir, '--json']);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ detached: false, loopsDetached: [], othersLoops: [mine] });
    const t = await snapstore(['store', 'detach', 'd', '--state-dir', stateDir]);
    expect(t.stdout).toMatch(/was not attached; nothing changed/);
    expect(t.stderr).toContain(`note: ${mine} over the store file were not made by snapstore and were left alone`);
    expect((await execa('losetup', ['--noheadings', '-O', 'BACK-FILE', mine])).stdout.trim()).toBe(file);
    expect(await isImmutable(file)).toBe(true);
  });

  it('the one recorded (as attach records it before making it) is released, the record removed, the user\'s kept', async () => {
    const ours = (await execa('losetup', ['--find', '--show', '--read-only', file])).stdout.trim();
    loops.push(ours);
    const record = path.join(stateDir, 'stores', 'd.loop');
    fs.writeFileSync(record, JSON.stringify({ version: 1, op: 'loop', name: 'd', startedAt: new Date().toISOString(), data: { device: ours } }), { mode: 0o600 });
    const r = await snapstore(['store', 'detach', 'd', '--state-dir', stateDir, '--json']);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ detached: true, loopsDetached: [ours], othersLoops: [loops[0]] });
    expect(fs.existsSync(record)).toBe(false);
    expect((await execa('losetup', ['--noheadings', '-O', 'BACK-FILE', ours], { reject: false })).stdout.trim()).not.toBe(file);
    expect((await execa('losetup', ['--noheadings', '-O', 'BACK-FILE', loops[0]!])).stdout.trim()).toBe(file);
    expect(await isImmutable(file)).toBe(true);
  });
});
