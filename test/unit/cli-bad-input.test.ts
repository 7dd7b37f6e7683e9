// The mistakes a user can make on the command line, one row each: the
// message names the thing, the reason and the way out; the exit code is the
// class of the mistake; and nothing changed: the state directory and the
// store folder are as they were (no lock file, no folder, no record) and so
// is device-mapper. The whole CLI in this process, on the fake
// device-mapper (the store layer's own checks on this machine's /tmp).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EXIT } from '../../src/cli/exit-codes.js';
import { formatTable } from '../../src/dm/table-text.js';
import { cli, newSystem, system } from '../support/cli-fake.js';
import { ORIGIN_PATH } from '../support/fake-platform.js';
import { treeSnapshot } from '../support/tree.js';

vi.mock('../../src/snapshot/platform.js', async (original) => (await import('../support/cli-fake.js')).fakePlatformModule(original));
vi.mock('../../src/dm/client.js', async (original) => (await import('../support/cli-fake.js')).fakeClientModule(original));

let scratch: string;
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-bad-input-'));
});
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A new state directory and store folder (both 0700, as snapstore wants them), on a new fake machine. */
function place() {
  newSystem();
  const root = fs.mkdtempSync(path.join(scratch, 'row-'));
  const state = path.join(root, 'state');
  const stores = path.join(root, 'stores');
  fs.mkdirSync(state, { mode: 0o700 });
  fs.mkdirSync(stores, { mode: 0o700 });
  return { root, state, stores };
}
type Place = ReturnType<typeof place>;

/** What the kernel holds: every dm device, its table and whether it is suspended. */
const kernel = () =>
  system.platform.dm
    .names()
    .sort()
    .map((n) => `${n}: ${formatTable(system.platform.dm.table(n), system.platform.dm.features())}${system.platform.dm.info(n).suspended ? ' (suspended)' : ''}`);

const createArgs = (p: Place, name = 'up1') => ['create', name, '--origin', ORIGIN_PATH, '--store', path.join(p.stores, `${name}.store`), '--size', '16M', '--state-dir', p.state];

interface Row {
  readonly mistake: string;
  /** what is there before: a snapshot made, a folder opened to others */
  readonly arrange?: (p: Place) => Promise<void> | void;
  readonly argv: (p: Place) => string[];
  readonly exit: number;
  /** fragments of what the user reads: the thing, the reason, the way out */
  readonly says: readonly (string | RegExp)[];
}

const ROWS: Row[] = [
  { mistake: 'a missing snapshot name', argv: (p) => createArgs(p).filter((a) => a !== 'up1'), exit: EXIT.usage, says: ["missing required argument 'name'", 'run with --help'] },
  { mistake: 'an unknown snapshot', argv: (p) => ['commit', 'nope', '--state-dir', p.state], exit: EXIT.notFound, says: ['no snapshot named "nope"', /way out: .*snapstore list/] },
  { mistake: 'an unknown snapshot to roll back', argv: (p) => ['rollback', 'nope', '--state-dir', p.state], exit: EXIT.notFound, says: ['no snapshot named "nope"', 'way out:'] },
  { mistake: 'an unknown store', argv: (p) => ['store', 'verify', 'nope', '--state-dir', p.state], exit: EXIT.notFound, says: ['"nope"', 'way out:'] },
  { mistake: 'a size in decimal units', argv: (p) => [...createArgs(p), '--size', '5MB'], exit: EXIT.usage, says: ['--size "5MB" is ambiguous', 'write 5M or 5MiB', 'way out:'] },
  { mistake: 'a size that is no size', argv: (p) => [...createArgs(p), '--size', 'lots'], exit: EXIT.usage, says: ['--size "lots"', 'way out:'] },
  { mistake: 'a chunk size that is not a power of two', argv: (p) => [...createArgs(p), '--chunk-size', '3K'], exit: EXIT.usage, says: ['chunk size 3 KiB', 'power of two', 'way out:'] },
  { mistake: 'a boot budget of no boots', argv: (p) => [...createArgs(p), '--boot-attempts', '0'], exit: EXIT.usage, says: ['--boot-attempts "0" is not a positive whole number', 'way out:'] },
  { mistake: 'a mode that does not exist', argv: (p) => [...createArgs(p), '--mode', 'snapshot'], exit: EXIT.usage, says: ['"snapshot"', 'checkpoint or update', 'way out:'] },
  { mistake: 'a NAME with a slash', argv: (p) => createArgs(p, 'a/b'), exit: EXIT.usage, says: ['"a/b" is not allowed', 'letters, digits'] },
  { mistake: 'a NAME like one of a snapshot\'s devices', argv: (p) => createArgs(p, 'x-cow'), exit: EXIT.usage, says: ['"x-cow"', '-cow'] },
  {
    mistake: 'a store folder others can write',
    arrange: (p) => fs.chmodSync(p.stores, 0o777),
    argv: (p) => ['store', 'create', 's1', '--store', path.join(p.stores, 's1'), '--size', '4M', '--state-dir', p.state],
    exit: EXIT.refused,
    says: [/writable by .*others/, 'chmod go-w'],
  },
  { mistake: 'a relative state directory', argv: () => ['status', '--state-dir', 'state'], exit: EXIT.usage, says: ['"state" is a relative path', 'way out:'] },
  {
    mistake: 'a state directory others can write',
    arrange: (p) => fs.chmodSync(p.state, 0o777),
    argv: (p) => createArgs(p),
    exit: EXIT.refused,
    says: ['writable by its group and others', 'chmod go-w'],
  },
  { mistake: 'two boot systems at once (a conflicting pair)', argv: (p) => ['install-boot', '--systemd', '--dracut', '--root', p.root], exit: EXIT.usage, says: ["'--systemd' cannot be used with option '--dracut'"] },
  { mistake: 'both a store image and a store name (a conflicting pair)', argv: (p) => ['inspect', path.join(p.root, 'img'), '--store', 's1', '--state-dir', p.state], exit: EXIT.usage, says: ['inspect takes one store', 'way out:'] },
  { mistake: 'extend by and to at once (a conflicting pair)', arrange: async (p) => void (await cli(createArgs(p))), argv: (p) => ['extend', 'up1', '--by', '1G', '--to', '4G', '--state-dir', p.state], exit: EXIT.usage, says: ['--by', '--to', 'way out:'] },
  { mistake: 'extend by nothing', arrange: async (p) => void (await cli(createArgs(p))), argv: (p) => ['extend', 'up1', '--state-dir', p.state], exit: EXIT.usage, says: ['--by', '--to', 'way out:'] },
  { mistake: 'a second create of the same name', arrange: async (p) => void (await cli(createArgs(p))), argv: (p) => createArgs(p), exit: EXIT.refused, says: ['a snapshot named "up1" exists already (active)', 'way out: `snapstore status up1` shows it; commit, roll back or discard it first'] },
  {
    mistake: 'a rollback of a snapshot that is not active (discarded)',
    arrange: async (p) => {
      await cli(createArgs(p));
      await cli(['discard', 'up1', '--state-dir', p.state]);
    },
    argv: (p) => ['rollback', 'up1', '--state-dir', p.state],
    exit: EXIT.refused,
    says: ['snapshot "up1" is discarded: the way back is gone', 'way out: nothing is left to roll back to'],
  },
  {
    mistake: 'a commit of a snapshot that is not active (rolled back)',
    arrange: async (p) => {
      await cli(createArgs(p));
      await cli(['rollback', 'up1', '--state-dir', p.state]);
    },
    argv: (p) => ['commit', 'up1', '--state-dir', p.state],
    exit: EXIT.refused,
    says: ['snapshot "up1" is rolled-back: its rollback is done', 'way out: nothing is left to commit: to try the update again, take a new checkpoint'],
  },
  { mistake: 'a wait for the lock that is no number of seconds', arrange: async (p) => void (await cli(createArgs(p))), argv: (p) => ['commit', 'up1', '--wait-lock', 'soon', '--state-dir', p.state], exit: EXIT.usage, says: ['--wait-lock "soon" is not a number of seconds', 'way out: --wait-lock 60'] },
  {
    mistake: 'a store path that exists',
    arrange: (p) => fs.writeFileSync(path.join(p.stores, 's1'), 'mine\n'),
    argv: (p) => ['store', 'create', 's1', '--store', path.join(p.stores, 's1'), '--size', '4M', '--state-dir', p.state],
    exit: EXIT.refused,
    says: ['already exists', 'way out:'],
  },
  { mistake: 'a watch policy that does not exist', argv: (p) => ['watch', '--on-full', 'explode', '--state-dir', p.state], exit: EXIT.usage, says: ['--on-full "explode" is not one of', 'way out:'] },
  { mistake: 'an option the command does not have', argv: (p) => ['commit', 'up1', '--force', '--state-dir', p.state], exit: EXIT.usage, says: ["unknown option '--force'"] },
  { mistake: 'a command that does not exist', argv: () => ['snapshot', 'up1'], exit: EXIT.usage, says: ["unknown command 'snapshot'"] },
  { mistake: 'help of a command that does not exist', argv: () => ['help', 'store', 'nuke'], exit: EXIT.usage, says: ['there is no command "snapstore store nuke"', 'create, list'] },
];

describe('a bad command line: its message, its exit code, and nothing changed', () => {
  it.each(ROWS.map((r) => [r.mistake, r] as const))('%s', async (_mistake, row) => {
    const p = place();
    await row.arrange?.(p);
    const before = { files: treeSnapshot(p.root), kernel: kernel() };
    const r = await cli(row.argv(p));
    const said = r.errors.join('\n');
    expect(r.code, said).toBe(row.exit);
    for (const s of row.says) expect(said).toMatch(typeof s === 'string' ? new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : s);
    expect(said, 'no stack trace').not.toMatch(/\n\s+at /);
    expect({ files: treeSnapshot(p.root), kernel: kernel() }).toEqual(before);
  });
});
