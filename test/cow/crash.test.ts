/**
 * kill -9 a merge process at moments spread over its run, rerun, compare
 * with an uninterrupted merge. (kill -9 keeps the page cache, so this tests
 * restartability; flush ordering under power loss is in merge.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bytes } from '../../src/units/units.js';
import { FileIo } from '../../src/blockio/file-io.js';
import { mergeOffline } from '../../src/cow/merge.js';
import { buildStore, pattern, referenceMerge } from './helpers.js';

const CHUNKS = 8192; // 32 MiB origin
const EXCEPTIONS = 3000;
const BATCH = 1 << 20; // 256 chunks: a dozen batches, each flushed and committed

let dir: string;
let child: string;
let originBytes: Buffer;
let storeBytes: Buffer;
let olds: number[];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cow-crash-'));
  const out = path.join(dir, 'js');
  execFileSync(
    'npx',
    ['tsc', '--ignoreConfig', '--outDir', out, '--rootDir', '.', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--types', 'node', 'test/cow/merge-child.ts'],
    { stdio: 'inherit' },
  );
  fs.writeFileSync(path.join(out, 'package.json'), '{"type":"module"}');
  child = path.join(out, 'test/cow/merge-child.js');
  const set = new Set<number>();
  let x = 99;
  while (set.size < EXCEPTIONS) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    set.add(x % CHUNKS);
  }
  olds = [...set];
  originBytes = pattern(CHUNKS * 4096, 11);
  storeBytes = buildStore(olds).store.data;
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs the child paced and kills it with SIGKILL when it reports write number `at`. */
function killAt(originPath: string, storePath: string, at: number): Promise<{ killed: boolean; writes: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, originPath, storePath, String(BATCH), 'paced'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let writes = 0;
    let buffered = '';
    p.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!line.startsWith('progress ')) continue;
        writes = Number(line.slice(9));
        if (writes === at) p.kill('SIGKILL');
        else p.stdin.write('.');
      }
    });
    p.on('error', reject);
    p.on('exit', (_code, signal) => resolve({ killed: signal === 'SIGKILL', writes }));
  });
}

describe('kill -9 during a merge', () => {
  it('reruns to the same origin as an uninterrupted merge, from kills spread over the run', async () => {
    const expected = referenceMerge(originBytes, olds, 4096);
    // An uninterrupted run first: it gives the number of writes and must match the model.
    const o0 = path.join(dir, 'o0');
    const s0 = path.join(dir, 's0');
    fs.writeFileSync(o0, originBytes);
    fs.writeFileSync(s0, storeBytes);
    const full = await killAt(o0, s0, -1);
    expect(full.killed).toBe(false);
    expect(fs.readFileSync(o0).equals(expected)).toBe(true);
    const total = full.writes;
    expect(total).toBeGreaterThan(1000);

    for (const at of [1, Math.floor(total * 0.1), Math.floor(total / 3), Math.floor(total / 2), Math.floor(total * 0.9), total]) {
      const o = path.join(dir, `o${at}`);
      const s = path.join(dir, `s${at}`);
      fs.writeFileSync(o, originBytes);
      fs.writeFileSync(s, storeBytes);
      const run = await killAt(o, s, at);
      expect(run.killed, `killed at write ${at}`).toBe(true);
      const oi = FileIo.open(o, { writable: true });
      const si = FileIo.open(s, { writable: true });
      const rerun = mergeOffline(oi, si);
      oi.close();
      si.close();
      // The rerun knows it resumes: it reports what the killed run finished.
      expect(rerun.outcome).toBe('merged');
      expect(rerun.totalExceptions).toBe(EXCEPTIONS);
      expect(rerun.alreadyMerged + rerun.chunks).toBe(EXCEPTIONS);
      if (at > 600) expect(rerun.alreadyMerged).toBeGreaterThan(0);
      expect(fs.readFileSync(o).equals(expected), `origin after a kill at write ${at} of ${total}`).toBe(true);
    }
  });
});
