// The messages a new user meets on a wrong first try (issue 14): each bad
// input gets its exit code, a message naming the path and the reason, no
// stack trace, and nothing is created. Help texts say what the commands
// take, with examples and exit codes.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileIo } from '../../src/blockio/file-io.js';
import { CowWriter } from '../../src/cow/writer.js';
import { bytes, chunks, chunkSize } from '../../src/units/units.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { BIN, snapstore } from './cli.js';
import type { LoopFs } from './loopfs.js';
import { listTree, makeLoopFs } from './loopfs.js';

type Run = { exitCode?: number | undefined; stdout: string; stderr: string };

const STACK = /\n\s+at /;
const noStack = (r: Run) => expect(`${r.stdout}\n${r.stderr}`).not.toMatch(STACK);
const jsonError = (r: Run) => JSON.parse(r.stdout).error as { code: string; message: string; hint?: string };
const asNobody = (args: string[], cwd?: string) =>
  execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', BIN, ...args], { reject: false, ...(cwd ? { cwd } : {}) });

/** A store image with `n` exceptions (old chunks 0, 2, 4...). */
function writeStore(file: string, n: number): void {
  const io = FileIo.create(file, bytes((n + 2 + Math.ceil((n + 1) / 256) + 1) * 4096));
  const w = CowWriter.create(io, chunkSize(bytes(4096)));
  for (let i = 0; i < n; i++) w.append(chunks(i * 2), Buffer.alloc(4096, (i % 250) + 1));
  w.commit();
  io.close();
}

let base: string;
let data: LoopFs;
beforeAll(async () => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-msg-'));
  data = await makeLoopFs('ext4', 64);
});
afterAll(async () => {
  await data?.cleanup();
  fs.rmSync(base, { recursive: true, force: true });
});

/** Each command that takes a state directory, as a user would first type it. */
const stateCommands = (stateDir: string, storeFile: string): string[][] => [
  ['store', 'create', 'x', '--store', storeFile, '--size', '4M', '--state-dir', stateDir],
  ['store', 'list', '--state-dir', stateDir],
  ['store', 'verify', 'x', '--state-dir', stateDir],
  ['store', 'delete', 'x', '--state-dir', stateDir],
];

describe('the state directory is not what it must be', () => {
  it('a file: STATE_DIR_NOT_DIRECTORY naming it, the file untouched, no store made', async () => {
    const file = path.join(base, 'state-file');
    fs.writeFileSync(file, 'not a directory\n');
    const store = path.join(data.storeDir, 'x');
    for (const args of stateCommands(file, store)) {
      const r = await snapstore([...args, '--json']);
      expect(r.exitCode, args.join(' ')).toBe(EXIT.refused);
      expect(jsonError(r)).toMatchObject({ code: 'STATE_DIR_NOT_DIRECTORY', message: expect.stringContaining(`${file} is not a directory`), hint: expect.any(String) });
      noStack(r);
      const t = await snapstore(args);
      expect(t.stderr).toMatch(new RegExp(`^snapstore: .*${file} is not a directory.*\\n  way out: `));
      noStack(t);
    }
    expect(fs.readFileSync(file, 'utf8')).toBe('not a directory\n');
    expect(listTree(data.storeDir)).toEqual([]);
  });

  describe('on a read-only filesystem', () => {
    let ro: LoopFs;
    beforeAll(async () => {
      ro = await makeLoopFs('ext4', 32);
      fs.mkdirSync(path.join(ro.mountpoint, 'made'), { mode: 0o700 });
      await execa('mount', ['-o', 'remount,ro', ro.mountpoint]);
    });
    afterAll(async () => ro?.cleanup());

    it('create (state directory to make, or made already) and delete: STATE_DIR_READ_ONLY naming it; nothing made anywhere', async () => {
      const before = listTree(ro.mountpoint);
      for (const dir of ['missing', 'made']) {
        const stateDir = path.join(ro.mountpoint, dir);
        for (const args of [stateCommands(stateDir, path.join(data.storeDir, 'x'))[0]!, ['store', 'delete', 'x', '--state-dir', stateDir]]) {
          const r = await snapstore([...args, '--json']);
          if (dir === 'missing' && args[1] === 'delete') {
            // Nothing was ever recorded there: that is what it says.
            expect(jsonError(r)).toMatchObject({ code: 'STATE_DIR_MISSING', message: expect.stringContaining(stateDir) });
            continue;
          }
          expect(r.exitCode, `${dir}: ${args.join(' ')}`).toBe(EXIT.refused);
          expect(jsonError(r)).toMatchObject({ code: 'STATE_DIR_READ_ONLY', message: expect.stringMatching(new RegExp(`${stateDir}.*read-only`)) });
          noStack(r);
        }
      }
      // Reading needs no writable filesystem.
      const list = await snapstore(['store', 'list', '--state-dir', path.join(ro.mountpoint, 'made'), '--json']);
      expect(list.exitCode).toBe(0);
      expect(JSON.parse(list.stdout)).toEqual({ schemaVersion: 1, stores: [] });
      expect(listTree(ro.mountpoint)).toEqual(before);
      expect(listTree(data.storeDir)).toEqual([]);
    });
  });

  it('not root: NOT_ROOT, saying root is needed and naming the path; nothing made', async () => {
    const stateDir = path.join(base, 'never-made');
    const store = path.join(data.storeDir, 'x');
    for (const args of stateCommands(stateDir, store)) {
      const r = await asNobody([...args, '--json']);
      expect(r.exitCode, args.join(' ')).toBe(EXIT.refused);
      const e = jsonError(r);
      expect(e.code).toBe('NOT_ROOT');
      expect(e.message).toMatch(/root/);
      expect(e.message).toContain(args[1] === 'create' ? store : stateDir);
      expect(e.hint).toMatch(/as root/);
      noStack(r);
    }
    expect(fs.existsSync(stateDir)).toBe(false);
    expect(listTree(data.storeDir)).toEqual([]);
  });

  it('relative: RELATIVE_PATH, exit 2, the absolute path suggested, nothing made in the working directory', async () => {
    const cwd = fs.mkdtempSync(path.join(base, 'cwd-'));
    for (const args of stateCommands('state', path.join(data.storeDir, 'x'))) {
      const r = await execa(BIN, [...args, '--json'], { cwd, reject: false });
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(jsonError(r)).toMatchObject({ code: 'RELATIVE_PATH', message: expect.stringMatching(/"state" is a relative path/), hint: expect.stringContaining(path.join(cwd, 'state')) });
      noStack(r);
    }
    expect(fs.readdirSync(cwd)).toEqual([]);
    expect(listTree(data.storeDir)).toEqual([]);
  });

  it('store list: a missing directory is an error (exit 4, not found), an empty one is an empty list (exit 0)', async () => {
    const missing = path.join(base, 'no-such-state');
    const r = await snapstore(['store', 'list', '--state-dir', missing]);
    expect(r.exitCode).toBe(EXIT.notFound);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`there is no state directory at ${missing}`));
    expect(fs.existsSync(missing)).toBe(false);
    const j = await snapstore(['store', 'list', '--state-dir', missing, '--json']);
    expect(jsonError(j).code).toBe('STATE_DIR_MISSING');

    const empty = fs.mkdtempSync(path.join(base, 'empty-'));
    const e = await snapstore(['store', 'list', '--state-dir', empty]);
    expect(e.exitCode).toBe(0);
    expect(e.stdout.trim()).toBe(`no stores in ${empty}`);
    expect(JSON.parse((await snapstore(['store', 'list', '--state-dir', empty, '--json'])).stdout)).toEqual({ schemaVersion: 1, stores: [] });
    expect(fs.readdirSync(empty)).toEqual([]);
  });

  it('store list tells a damaged manifest from an unfinished create', async () => {
    const stateDir = fs.mkdtempSync(path.join(base, 'states-'));
    fs.mkdirSync(path.join(stateDir, 'stores'), { mode: 0o700 });
    fs.writeFileSync(path.join(stateDir, 'stores', 'broken.json'), '{"version": 1,', { mode: 0o600 });
    fs.writeFileSync(path.join(stateDir, 'stores', 'half.creating'), JSON.stringify({ version: 1, op: 'creating', name: 'half', startedAt: new Date().toISOString(), data: { file: '/nowhere/half' } }), { mode: 0o600 });
    const r = await snapstore(['store', 'list', '--state-dir', stateDir, '--json']);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout).stores).toEqual([
      expect.objectContaining({ name: 'broken', state: 'damaged', problem: expect.stringMatching(/broken\.json: not JSON/) }),
      expect.objectContaining({ name: 'half', state: 'unfinished', problem: expect.stringMatching(/unfinished .*store create.*snapstore store delete half/) }),
    ]);
    const t = await snapstore(['store', 'list', '--state-dir', stateDir]);
    expect(t.stdout).toMatch(/^broken: DAMAGED: .*\nhalf: UNFINISHED: /);
    expect(t.stdout).not.toMatch(/manifest unreadable/);
  });

  describe('on a full filesystem', () => {
    let full: LoopFs;
    beforeAll(async () => {
      full = await makeLoopFs('ext4', 32, ['-m', '0']);
      fs.mkdirSync(path.join(full.mountpoint, 'with-stores', 'stores'), { recursive: true, mode: 0o700 });
      fs.mkdirSync(path.join(full.mountpoint, 'bare'), { mode: 0o700 });
      // Every block taken (root may take them all: -m 0 reserves none).
      await execa('dd', ['if=/dev/zero', `of=${path.join(full.mountpoint, 'fill')}`, 'bs=1M'], { reject: false });
      await execa('dd', ['if=/dev/zero', `of=${path.join(full.mountpoint, 'fill2')}`, 'bs=4k'], { reject: false });
      await execa('sync');
    });
    afterAll(async () => full?.cleanup());

    it('create: ENOSPC about the state directory, naming its filesystem; no "smaller size"; nothing left anywhere', async () => {
      // The lock of a state directory that exists stays (every command that changes things makes it).
      const tree = () => listTree(full.mountpoint).filter((f) => !/\/lock$/.test(f));
      const before = tree();
      for (const dir of ['with-stores', 'bare']) {
        const stateDir = path.join(full.mountpoint, dir);
        const r = await snapstore(['store', 'create', 'x', '--store', path.join(data.storeDir, 'x'), '--size', '4M', '--state-dir', stateDir, '--json']);
        expect(r.exitCode, dir).toBe(1);
        const e = jsonError(r);
        expect(e.code).toBe('ENOSPC');
        expect(e.message).toContain(stateDir);
        expect(e.message).toContain(`state directory, ${full.mountpoint} (${full.device}, ext4), is full`);
        expect(e.hint).toContain(`free space on ${full.mountpoint}`);
        expect(`${e.message} ${e.hint}`).not.toMatch(/smaller/);
        noStack(r);
      }
      expect(tree()).toEqual(before);
      expect(listTree(data.storeDir)).toEqual([]);
    });

    it('export that runs out of space: the hint is about the export, not a merge; no partial image left', async () => {
      const origin = path.join(base, 'export-origin.img');
      fs.writeFileSync(origin, Buffer.alloc(8 << 20, 1));
      const cow = path.join(base, 'export-cow.img');
      writeStore(cow, 10);
      const before = listTree(full.mountpoint);
      const r = await snapstore(['export', path.join(full.mountpoint, 'view.img'), '--origin', origin, '--cow', cow, '--state-dir', base, '--json']);
      expect(r.exitCode).toBe(1);
      const e = jsonError(r);
      expect(e.message).toMatch(/ENOSPC/);
      expect(e.hint).toMatch(new RegExp(`the filesystem of ${full.mountpoint}/view.img is full: free space there or export to another filesystem`));
      expect(e.hint).not.toMatch(/resume/);
      noStack(r);
      expect(listTree(full.mountpoint)).toEqual(before);
    });
  });
});

describe('inspect', () => {
  let image: string;
  beforeAll(() => {
    // Enough exceptions that --exceptions overflows a pipe's buffer many times over.
    image = path.join(base, 'many.cow');
    writeStore(image, 20_000);
  });

  it('with no store: a usage error (exit 2) naming what it takes, not an option it does not have', async () => {
    for (const json of [false, true]) {
      const r = await snapstore(['inspect', ...(json ? ['--json'] : [])]);
      expect(r.exitCode).toBe(2);
      const text = json ? jsonError(r).message : r.stderr;
      expect(text).toMatch(/a device or image path, or --store NAME/);
      expect(`${r.stdout}${r.stderr}`).not.toMatch(/--cow/);
      noStack(r);
    }
  });

  it('--exceptions | head -1: ends quietly, no stack trace', async () => {
    const r = await execa('bash', ['-c', `set -o pipefail; ${BIN} inspect ${image} --exceptions --state-dir ${base} | head -1`], { reject: false });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^store .*many\.cow: [\d.]+ MiB, chunk size 4 KiB$/);
    expect(r.exitCode).toBe(0);
  });
});

describe('the command line', () => {
  it('--json before the command is taken', async () => {
    const empty = fs.mkdtempSync(path.join(base, 'json-'));
    const r = await snapstore(['--json', 'store', 'list', '--state-dir', empty]);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ schemaVersion: 1, stores: [] });
    const e = await snapstore(['--json', 'store', 'list', '--state-dir', path.join(base, 'nope')]);
    expect(e.exitCode).toBe(EXIT.notFound);
    expect(jsonError(e).code).toBe('STATE_DIR_MISSING');
    const u = await snapstore(['--json', 'store', 'list', '--bogus']);
    expect(u.exitCode).toBe(2);
    expect(jsonError(u)).toMatchObject({ code: 'USAGE', message: expect.stringMatching(/unknown option '--bogus'/), hint: expect.any(String) });
  });

  it('help store create prints the help of store create; help of something that is not a command is a usage error', async () => {
    const r = await snapstore(['help', 'store', 'create']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^Usage: snapstore store create \[options\] <name>/);
    expect(r.stdout).toBe((await snapstore(['store', 'create', '--help'])).stdout);
    expect((await snapstore(['help', 'inspect'])).stdout).toMatch(/^Usage: snapstore inspect/);
    expect((await snapstore(['help'])).stdout).toBe((await snapstore(['--help'])).stdout);
    const bad = await snapstore(['help', 'store', 'nope']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/no command "snapstore store nope".*\n.*way out: .*create, list, verify/);
    noStack(bad);
  });

  it('--help has examples and the exit codes; each command an example; store lists list; store create its rules', async () => {
    const top = (await snapstore(['--help'])).stdout;
    expect(top).toMatch(/Examples:\n {2}snapstore /);
    expect(top).toMatch(/Exit codes:\n {2}0 +done\n {2}1 +failed: .*\n {2}2 +the command line was not taken/);
    expect(top).toMatch(/130 +stopped by SIGINT \(143: SIGTERM\) after undoing its work/);
    const commands = [['store'], ['store', 'create'], ['store', 'list'], ['store', 'verify'], ['store', 'delete'], ['store', 'attach'], ['store', 'detach'], ['map'], ['inspect'], ['merge'], ['export']];
    for (const c of commands) {
      const r = await snapstore([...c, '--help']);
      expect(r.exitCode, c.join(' ')).toBe(0);
      expect(r.stdout, c.join(' ')).toMatch(new RegExp(`Examples?:\\n {2}snapstore ${c.join(' ')}`));
    }
    const store = (await snapstore(['store', '--help'])).stdout;
    expect(store).toMatch(/^ {2}list\b/m);
    expect(store).toMatch(/create, list, verify/);
    const create = (await snapstore(['store', 'create', '--help'])).stdout.replace(/\s+/g, ' ');
    expect(create).toMatch(/must be ext4 or xfs/);
    expect(create).toMatch(/owned by root and not writable by group or others/);
    expect(create).toMatch(/--store path must not exist/);
  });
});

describe('sizes, and a new store', () => {
  it('--size 4097 is shown exactly; an unknown suffix lists K to P in the message and in the hint (exit 2)', async () => {
    const exact = await snapstore(['store', 'create', 'x', '--store', path.join(data.storeDir, 'x'), '--size', '4097', '--state-dir', base, '--json']);
    expect(exact.exitCode).toBe(2);
    expect(jsonError(exact)).toMatchObject({ code: 'BAD_SIZE', message: expect.stringMatching(/^store size 4097 bytes must be a whole number of 4 KiB chunks/) });
    const bad = await snapstore(['store', 'create', 'x', '--store', path.join(data.storeDir, 'x'), '--size', '5X', '--state-dir', base]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/size "5X" is not understood\n  way out: .*K, M, G, T or P suffix/);
    noStack(bad);
    expect(listTree(data.storeDir)).toEqual([]);
  });

  it('a store nothing has written to: inspect --store says so and exits 0; "1 segment"; export onto a mounted device is refused with the way out', async () => {
    const stateDir = path.join(base, 'new-store-state');
    const file = path.join(data.storeDir, 'fresh');
    const c = await snapstore(['store', 'create', 'fresh', '--store', file, '--size', '4M', '--state-dir', stateDir]);
    expect(c.exitCode).toBe(0);
    expect(c.stdout).toMatch(/ in 1 segment, /);
    expect(c.stderr).toMatch(/into 1 segment on ext4/);
    try {
      const r = await snapstore(['inspect', '--store', 'fresh', '--state-dir', stateDir]);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toMatch(/store "fresh": nothing has written to it yet .*a new store, ready for a snapshot/);
      const j = await snapstore(['inspect', '--store', 'fresh', '--state-dir', stateDir, '--json']);
      expect(JSON.parse(j.stdout)).toMatchObject({ store: 'fresh', written: false });

      const origin = path.join(base, 'small-origin.img');
      fs.writeFileSync(origin, Buffer.alloc(1 << 20, 2));
      const cow = path.join(base, 'small-cow.img');
      writeStore(cow, 3);
      const e = await snapstore(['export', data.device!, '--origin', origin, '--cow', cow, '--state-dir', base, '--json']);
      expect(e.exitCode).toBe(EXIT.busy);
      expect(jsonError(e)).toMatchObject({ code: 'DEVICE_IN_USE', message: expect.stringContaining(`${data.device} is in use`), hint: expect.stringMatching(/unmount it .*or export to a new image file/) });
    } finally {
      await snapstore(['store', 'delete', 'fresh', '--state-dir', stateDir]);
    }
    expect(listTree(data.storeDir)).toEqual([]);
  });
});
