// The state directory's lock: its file exists only while a command holds
// it (a refused command leaves nothing behind), and a command that waited
// on a file its holder removed takes the lock on a new one: never two
// holders at once.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withStateLock } from '../../src/state/lock.js';
import { statePaths } from '../../src/state/names.js';
import { StateDir } from '../../src/state/state-dir.js';

let dir: StateDir;
beforeEach(() => {
  dir = StateDir.need(fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-lock-')));
});
afterEach(() => fs.rmSync(dir.path, { recursive: true, force: true }));
const lockFile = () => statePaths.lock(dir.path);

describe('the lock file', () => {
  it('is there while the lock is held, and gone after, whether fn returned or threw', async () => {
    await withStateLock(dir, () => expect(fs.existsSync(lockFile())).toBe(true));
    expect(fs.readdirSync(dir.path)).toEqual([]);
    await expect(withStateLock(dir, () => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
    expect(fs.readdirSync(dir.path)).toEqual([]);
  });

  it('a command refused because another holds it leaves the holder its file', async () => {
    let release!: () => void;
    const holder = withStateLock(dir, () => new Promise<void>((r) => (release = r)));
    await expect(withStateLock(dir, () => 'never')).rejects.toMatchObject({ code: 'LOCKED' });
    expect(fs.existsSync(lockFile())).toBe(true);
    release();
    await holder;
  });

  it('waiters on a removed file take the lock on a new one, one at a time', async () => {
    const inside: string[] = [];
    let active = 0;
    const run = (name: string, ms: number) =>
      withStateLock(
        dir,
        async () => {
          active++;
          expect(active).toBe(1);
          inside.push(name);
          await new Promise((r) => setTimeout(r, ms));
          active--;
        },
        { waitMs: 5000 },
      );
    // a holds; b and c wait on its file, which a removes when done; d comes
    // just after that, opening the path anew: whoever got a's old file must
    // not hold the lock beside d
    const later = new Promise<void>((r) => setTimeout(r, 320)).then(() => run('d', 150));
    await Promise.all([run('a', 300), run('b', 150), run('c', 150), later]);
    expect(inside.sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(fs.readdirSync(dir.path)).toEqual([]);
  });
});
