import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, expect, test } from 'vitest';
import { flockHolder } from '../../src/linux/proc-locks.js';
import { fromDevT } from '../../src/linux/device-number.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-proc-locks-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test("the holder of an exclusive flock is read from /proc/locks's line for the file (major:minor in hex); waiters, shared locks and other files are not holders", () => {
  const file = path.join(dir, 'a');
  fs.writeFileSync(file, '');
  const st = fs.statSync(file, { bigint: true });
  const d = fromDevT(st.dev);
  const at = `${d.major.toString(16).padStart(2, '0')}:${d.minor.toString(16).padStart(2, '0')}:${st.ino}`;
  const lines = (...l: string[]) => () => `${l.join('\n')}\n`;
  expect(flockHolder(file, lines(`1: FLOCK  ADVISORY  WRITE 4321 ${at} 0 EOF`))).toBe(4321);
  expect(flockHolder(file, lines(`1: POSIX  ADVISORY  WRITE 11 fd:00:1 0 EOF`, `2: FLOCK  ADVISORY  WRITE 77 ${at} 0 EOF`))).toBe(77);
  expect(flockHolder(file, lines(`1: -> FLOCK  ADVISORY  WRITE 99 ${at} 0 EOF`))).toBeUndefined();
  expect(flockHolder(file, lines(`1: FLOCK  ADVISORY  READ 99 ${at} 0 EOF`))).toBeUndefined();
  expect(flockHolder(file, lines(`1: FLOCK  ADVISORY  WRITE 99 ${at.replace(/:\d+$/, `:${st.ino + 1n}`)} 0 EOF`))).toBeUndefined();
  expect(flockHolder(path.join(dir, 'none'), lines(`1: FLOCK  ADVISORY  WRITE 99 ${at} 0 EOF`))).toBeUndefined();
});

test('against the real /proc/locks: flock(1) holding the file is found by its pid, and nobody once it has let go', async () => {
  const file = path.join(dir, 'b');
  fs.writeFileSync(file, '');
  // -o: the command does not inherit the lock; flock(1) itself holds it.
  const holder = spawn('flock', ['-x', '-o', file, '-c', 'echo held; exec sleep 60'], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
  try {
    expect(flockHolder(file)).toBe(holder.pid);
  } finally {
    process.kill(-holder.pid!, 'SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
  }
  expect(flockHolder(file)).toBeUndefined();
});
