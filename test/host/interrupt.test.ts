// SIGINT and SIGTERM during the long commands (issue 14): each undoes its
// partial work (or, for a merge, stops at a safe point), says what it left,
// and exits 130 or 143. After a SIGKILL, which no process can answer, the
// next run meets the leftover and names or removes it.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileIo } from '../../src/blockio/file-io.js';
import { CowWriter } from '../../src/cow/writer.js';
import { bytes, chunks, chunkSize } from '../../src/units/units.js';
import { BIN, snapstore } from './cli.js';
import type { LoopFs } from './loopfs.js';
import { makeLoopFs } from './loopfs.js';
import { EXIT } from '../../src/cli/exit-codes.js';

const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;
const STACK = /\n\s+at /;

async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const b of fs.createReadStream(file, { highWaterMark: 8 << 20 })) h.update(b as Buffer);
  return h.digest('hex');
}

/** A store image with `n` exceptions, old chunks 0, 2, 4...: each 4 KiB holds its index. */
function storeImage(file: string, n: number): void {
  const io = FileIo.create(file, bytes((n + 2 + Math.ceil((n + 1) / 256) + 1) * 4096));
  const w = CowWriter.create(io, chunkSize(bytes(4096)));
  const b = Buffer.alloc(4096);
  for (let i = 0; i < n; i++) {
    b.fill((i % 251) + 1);
    b.writeUInt32LE(i, 0);
    w.append(chunks(i * 2), b);
  }
  w.commit();
  io.close();
}

const start = (args: string[]): ResultPromise<{ reject: false }> => execa(BIN, args, { reject: false });
const partials = (dir: string, out: string) => fs.readdirSync(dir).filter((f) => f.startsWith(`.${out}.partial-`));

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-interrupt-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('export', () => {
  let origin: string;
  let cow: string;
  beforeAll(() => {
    origin = path.join(dir, 'export-origin.img');
    fs.closeSync(fs.openSync(origin, 'w'));
    fs.truncateSync(origin, 512 << 20);
    cow = path.join(dir, 'export-cow.img');
    storeImage(cow, 100);
  });
  const exportArgs = (out: string) => ['export', path.join(dir, out), '--origin', origin, '--cow', cow, '--state-dir', dir];

  it.each(['SIGINT', 'SIGTERM'] as const)('%s: exit 130/143, the partial image removed, and it says so', async (sig) => {
    const out = `view-${sig}.img`;
    const child = start(exportArgs(out));
    await until('the partial image', () => partials(dir, out).length > 0);
    await new Promise((r) => setTimeout(r, 100));
    child.kill(sig);
    const r = await child;
    expect(r.exitCode).toBe(SIGNAL_EXIT[sig]);
    expect(r.stderr).toMatch(new RegExp(`interrupted by ${sig} while exporting to .*\\.${out}\\.partial-${child.pid}; nothing was left behind \\(undone: the partial image .*\\)`));
    expect(r.stderr).not.toMatch(STACK);
    expect(partials(dir, out)).toEqual([]);
    expect(fs.existsSync(path.join(dir, out))).toBe(false);
  });

  it('after a SIGKILL, the next export to the same OUT removes the leftover and says so', async () => {
    const out = 'view-killed.img';
    const child = start(exportArgs(out));
    await until('the partial image', () => partials(dir, out).length > 0);
    await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGKILL');
    expect((await child).signal).toBe('SIGKILL');
    const left = partials(dir, out);
    expect(left).toEqual([`.${out}.partial-${child.pid}`]);

    const r = await snapstore(exportArgs(out));
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain(`removed ${path.join(dir, left[0]!)}: the partial image of an export to ${path.join(dir, out)} that was killed (its process ${child.pid} is gone)`);
    expect(partials(dir, out)).toEqual([]);
    expect(fs.statSync(path.join(dir, out)).size).toBe(512 << 20);
  });

  it("a partial image whose process still runs is another export under way: refused, named, left alone", async () => {
    const out = 'view-busy.img';
    const sleeper = execa('sleep', ['60'], { reject: false });
    const busy = path.join(dir, `.${out}.partial-${sleeper.pid}`);
    fs.writeFileSync(busy, 'another export');
    try {
      const r = await snapstore([...exportArgs(out), '--json']);
      expect(r.exitCode).toBe(EXIT.refused);
      expect(JSON.parse(r.stdout).error).toMatchObject({
        code: 'EXPORT_EXISTS',
        message: `${busy} is the partial image of another export to ${path.join(dir, out)}, and its process ${sleeper.pid} is still running`,
        hint: expect.stringContaining(`remove ${busy}`),
      });
      expect(fs.readFileSync(busy, 'utf8')).toBe('another export');
      expect(fs.existsSync(path.join(dir, out))).toBe(false);
    } finally {
      sleeper.kill();
      await sleeper;
    }
  });
});

describe('store create --zero', () => {
  let lfs: LoopFs;
  beforeAll(async () => {
    // Room for a store whose zeroing lasts long enough to be interrupted on a loaded machine.
    lfs = await makeLoopFs('ext4', 2200);
  });
  afterAll(async () => lfs?.cleanup());

  it.each([
    ['SIGINT', 'a new state directory'],
    ['SIGTERM', 'a state directory that exists'],
  ] as const)('%s (%s): exit 130/143, no file, no record, and it says nothing was left behind', async (sig, which) => {
    const stateDir = path.join(dir, `create-state-${sig}`);
    if (which === 'a state directory that exists') fs.mkdirSync(stateDir, { mode: 0o700 });
    const file = path.join(lfs.storeDir, `z-${sig}`);
    const record = path.join(stateDir, 'stores', `z.creating`);
    const child = start(['store', 'create', 'z', '--store', file, '--size', '1536M', '--zero', '--state-dir', stateDir]);
    await until('the file and its record', () => fs.existsSync(record) && fs.existsSync(file) && fs.statSync(file).size > 0);
    await new Promise((r) => setTimeout(r, 100));
    child.kill(sig);
    const r = await child;
    expect(r.exitCode).toBe(SIGNAL_EXIT[sig]);
    expect(r.stderr).toMatch(new RegExp(`interrupted by ${sig} while writing zeros over ${file}; nothing was left behind \\(undone: the store file ${file}, the creation record of "z"`));
    expect(r.stderr).not.toMatch(STACK);
    expect(fs.readdirSync(lfs.storeDir)).toEqual([]);
    if (which === 'a new state directory') {
      expect(r.stderr).toMatch(/the state directory .* \(mode 0700\)[\s\S]*undone: .*the state directory /);
      expect(fs.existsSync(stateDir)).toBe(false);
    } else {
      expect(fs.readdirSync(path.join(stateDir, 'stores'))).toEqual([]);
    }
    const list = await snapstore(['store', 'list', '--state-dir', stateDir, '--json']);
    if (which === 'a state directory that exists') expect(JSON.parse(list.stdout).stores).toEqual([]);
  });
});

describe('merge --offline', () => {
  const N = 131_072; // 512 MiB of exceptions: 8 batches
  let origin: string;
  let cow: string;
  let expected: string;

  beforeAll(async () => {
    origin = path.join(dir, 'merge-origin.img');
    cow = path.join(dir, 'merge-cow.img');
    fs.closeSync(fs.openSync(origin, 'w'));
    fs.truncateSync(origin, 2 * N * 4096);
    storeImage(cow, N);
    // The same merge, uninterrupted, on copies.
    const refOrigin = path.join(dir, 'ref-origin.img');
    const refCow = path.join(dir, 'ref-cow.img');
    await execa('cp', ['--sparse=always', origin, refOrigin]);
    fs.copyFileSync(cow, refCow);
    const ref = await snapstore(['merge', '--offline', '--origin', refOrigin, '--cow', refCow, '--state-dir', dir]);
    expect(ref.stdout).toMatch(new RegExp(`^merged ${N} chunks`));
    expected = await sha256(refOrigin);
    fs.rmSync(refOrigin);
    fs.rmSync(refCow);
  });

  it('SIGINT stops at a safe point (exit 130); a rerun finishes; the origin is as an uninterrupted merge leaves it', async () => {
    const child = start(['merge', '--offline', '--origin', origin, '--cow', cow, '--state-dir', dir]);
    // The first batch is on the origin once it has blocks.
    await until('the first batch', () => fs.statSync(origin).blocks > 0);
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    const m = new RegExp(`merge interrupted by SIGINT at a safe point: (\\d+) of ${N} exceptions of this run were merged and committed; the store holds the rest`).exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const done = Number(m![1]);
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(N);
    expect(r.stderr).toMatch(/way out: run the same merge again: it resumes where this one stopped/);
    expect(r.stderr).not.toMatch(STACK);

    const inspect = await snapstore(['inspect', cow, '--state-dir', dir]);
    expect(inspect.stdout).toContain(`offline merge: interrupted, ${done} of ${N} exceptions merged; run the merge again to finish`);

    const again = await snapstore(['merge', '--offline', '--origin', origin, '--cow', cow, '--state-dir', dir]);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`^merged ${N - done} chunks .*\\(resumed: ${done} of ${N} were merged by an earlier run\\)`));
    expect(await sha256(origin)).toBe(expected);
  });
});
