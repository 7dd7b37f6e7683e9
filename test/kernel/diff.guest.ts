// Guest side of the diff suite (host side: diff.test.ts): a checkpoint of a real
// ext4 and a real xfs, each on a passthrough as a system's data filesystem is,
// a known update (added, deleted, contents rewritten at the same size, chmod,
// a symlink retargeted, a rename, a directory added and one removed, a file
// only touched; the ext4 store grown, its file left out), and `bin/snapstore diff --json` must report exactly that: with
// the origin mounted, and with it unmounted (diff mounts it for the while).
// After every diff, on success, on refusal and stopped by SIGINT, nothing of it
// is left: no view device, no mount, no temporary folder.
import { randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { guestDisk, requireGuest, run } from '../vm/guest.js';
import { passthrough, sh } from './lifecycle-helpers.js';
import { expectValid } from '../support/json-schema.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';

const META = '/tmp/mnt/dmeta';
const STATE = `${META}/state`;
const FILESYSTEMS = [
  { type: 'ext4', disk: 'de4', mkfs: ['mkfs.ext4', '-qF'] },
  { type: 'xfs', disk: 'dxfs', mkfs: ['mkfs.xfs', '-qf'] },
] as const;
const mnt = (type: string) => `/tmp/mnt/d-${type}`;
const dev = (type: string) => `/dev/mapper/d-${type}`;
const name = (type: string) => `diff-${type}`;

function snapstore(args: string[]) {
  const r = spawnSync('node', ['bin/snapstore', ...args, '--state-dir', STATE], { encoding: 'utf8' });
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { status: r.status, stdout: r.stdout, json: json as Record<string, unknown> | undefined, said: `exit ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}` };
}

/** What a diff makes for the while, as the kernel and the filesystem show it now. */
function leftovers(): string[] {
  return [
    ...run('dmsetup', ['ls']).split('\n').filter((l) => /-view\s/.test(l)),
    ...fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes('snapstore-diff-')),
    ...fs.readdirSync('/tmp').filter((f) => f.startsWith('snapstore-diff-')),
  ];
}

/** The files before the update (`big`: one more, for the SIGINT test). */
function populate(root: string, big: boolean): void {
  fs.writeFileSync(`${root}/keep.txt`, 'unchanged\n');
  fs.writeFileSync(`${root}/rewrite.bin`, randomBytes(8192));
  fs.writeFileSync(`${root}/delete-me.txt`, 'deleted by the update\n');
  fs.writeFileSync(`${root}/chmod-me`, 'its mode changes\n', { mode: 0o644 });
  fs.writeFileSync(`${root}/rename-from.txt`, 'renamed by the update\n');
  fs.writeFileSync(`${root}/touch-me.txt`, 'only its mtime changes\n');
  fs.mkdirSync(`${root}/dir`);
  fs.writeFileSync(`${root}/dir/nested.txt`, 'nested\n');
  fs.mkdirSync(`${root}/gone`);
  fs.writeFileSync(`${root}/gone/inside.txt`, 'removed with its folder\n');
  fs.symlinkSync('keep.txt', `${root}/link`);
  // Only touched by the update, so diff reads both copies whole: a walk long enough to be stopped in.
  if (big) fs.writeFileSync(`${root}/big.bin`, randomBytes(16 << 20));
  fs.chmodSync(`${root}/chmod-me`, 0o644);
  // Older than the update by a minute: the rewrite's mtime differs for certain.
  const before = new Date(Date.now() - 60_000);
  for (const f of ['keep.txt', 'rewrite.bin', 'touch-me.txt', ...(big ? ['big.bin'] : [])]) fs.utimesSync(`${root}/${f}`, before, before);
}

/** The update. */
function update(root: string): void {
  fs.writeFileSync(`${root}/added.txt`, 'added by the update\n');
  fs.mkdirSync(`${root}/newdir`);
  fs.writeFileSync(`${root}/newdir/inner.txt`, 'added with its folder\n');
  fs.rmSync(`${root}/delete-me.txt`);
  fs.rmSync(`${root}/gone`, { recursive: true });
  const fd = fs.openSync(`${root}/rewrite.bin`, 'r+');
  fs.writeSync(fd, randomBytes(8192), 0, 8192, 0); // same size, other bytes
  fs.closeSync(fd);
  fs.chmodSync(`${root}/chmod-me`, 0o600);
  fs.unlinkSync(`${root}/link`);
  fs.symlinkSync('dir/nested.txt', `${root}/link`);
  fs.renameSync(`${root}/rename-from.txt`, `${root}/rename-to.txt`);
  fs.utimesSync(`${root}/touch-me.txt`, new Date(), new Date());
  if (fs.existsSync(`${root}/big.bin`)) fs.utimesSync(`${root}/big.bin`, new Date(), new Date());
}

const EXPECTED = {
  added: [
    { path: 'added.txt', type: 'file' },
    { path: 'newdir', type: 'directory' },
    { path: 'newdir/inner.txt', type: 'file' },
    { path: 'rename-to.txt', type: 'file' },
  ],
  removed: [
    { path: 'delete-me.txt', type: 'file' },
    { path: 'gone', type: 'directory' },
    { path: 'gone/inside.txt', type: 'file' },
    { path: 'rename-from.txt', type: 'file' },
  ],
  changed: [
    { path: 'chmod-me', type: 'file', changes: ['mode'] },
    { path: 'link', type: 'symlink', changes: ['target'] },
    { path: 'rewrite.bin', type: 'file', changes: ['content'] },
  ],
};

/** A diff's --json output, its changed entries cut to path, type and changes (their facts are checked apart). */
function sets(json: Record<string, unknown> | undefined) {
  const j = json as { added: unknown[]; removed: unknown[]; changed: Array<{ path: string; type: string; changes: string[] }> };
  return { added: j.added, removed: j.removed, changed: j.changed.map(({ path, type, changes }) => ({ path, type, changes })) };
}

describe('snapstore diff: a checkpoint of ext4 and of xfs against a known update', () => {
  beforeAll(() => {
    run('mkfs.ext4', ['-qF', guestDisk('dmeta')]);
    fs.mkdirSync(META, { recursive: true });
    run('mount', [guestDisk('dmeta'), META]);
    for (const f of FILESYSTEMS) {
      passthrough(`d-${f.type}`, f.disk);
      run(f.mkfs[0], [...f.mkfs.slice(1), dev(f.type)]);
      fs.mkdirSync(mnt(f.type), { recursive: true });
      run('mount', [dev(f.type), mnt(f.type)]);
      fs.mkdirSync(`${mnt(f.type)}/.snapstore`, { mode: 0o700 });
    }
  });
  afterAll(() => sh(`umount ${FILESYSTEMS.map((f) => mnt(f.type)).join(' ')} ${META} 2>/dev/null; true`));

  test.each(FILESYSTEMS)('$type: the checkpoint made, the update written', ({ type }) => {
    populate(mnt(type), type === 'ext4');
    sh('sync');
    const c = snapstore(['create', name(type), '--origin', dev(type), '--store', `${mnt(type)}/.snapstore/${name(type)}.store`, '--size', '16M', '--json']);
    expect(c.status, c.said).toBe(0);
    update(mnt(type));
    if (type === 'ext4') {
      // The store grows (as under the watcher): its file is snapstore's, and diff leaves it out.
      const x = snapstore(['extend', name(type), '--by', '8M']);
      expect(x.status, x.said).toBe(0);
    }
  });

  test.each(FILESYSTEMS)('$type: diff --json with the origin mounted: exactly the update, with old and new facts; nothing left', ({ type }) => {
    const d = snapstore(['diff', name(type), '--json']);
    expect(d.status, d.said).toBe(0);
    expect(d.json).toMatchObject({ schemaVersion: 1, name: name(type), fsType: type, snapshotDevice: `/dev/mapper/snapstore-${name(type)}-snap`, origin: { device: dev(type), mountedAt: mnt(type) }, storeLeftOut: `${mnt(type)}/.snapstore/${name(type)}.store` });
    expect(sets(d.json), d.said).toEqual(EXPECTED);
    expectValid('diff', d.json);
    const changed = (d.json as { changed: Array<{ path: string; old: object; new: object }> }).changed;
    expect(changed.find((c) => c.path === 'chmod-me')).toMatchObject({ old: { mode: '0644' }, new: { mode: '0600' } });
    expect(changed.find((c) => c.path === 'link')).toMatchObject({ old: { target: 'keep.txt' }, new: { target: 'dir/nested.txt' } });
    expect(leftovers()).toEqual([]);
    // The origin's own mount is as it was: mounted, writable.
    fs.writeFileSync(`${mnt(type)}/after-diff`, 'still writable\n');
    fs.rmSync(`${mnt(type)}/after-diff`);
  });

  test('the text output, one line a path as git status --short', () => {
    const type = 'ext4';
    const d = snapstore(['diff', name(type)]);
    expect(d.status, d.said).toBe(0);
    expect(d.stdout.trimEnd().split('\n')).toEqual([
      'A  added.txt',
      'M  chmod-me  (mode 0644 -> 0600)',
      'D  delete-me.txt',
      'D  gone/',
      'D  gone/inside.txt',
      'M  link  (target keep.txt -> dir/nested.txt)',
      'A  newdir/',
      'A  newdir/inner.txt',
      'D  rename-from.txt',
      'A  rename-to.txt',
      'M  rewrite.bin  (content)',
    ]);
    expect(leftovers()).toEqual([]);
  });

  test.each(FILESYSTEMS)('$type: with the origin unmounted, diff mounts it read-only for the while: the same sets, and it is unmounted again', ({ type }) => {
    run('umount', [mnt(type)]);
    const d = snapstore(['diff', name(type), '--json']);
    expect(d.status, d.said).toBe(0);
    expect(d.json).toMatchObject({ origin: { device: dev(type), mountedAt: null } });
    expect(sets(d.json), d.said).toEqual(EXPECTED);
    expectValid('diff', d.json);
    expect(leftovers()).toEqual([]);
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(` ${dev(type)} `);
    run('mount', [dev(type), mnt(type)]);
  });

  test('stopped by SIGINT in the middle of the walk: exit 130, INTERRUPTED, and nothing left', async () => {
    const child = spawn('node', ['bin/snapstore', 'diff', name('ext4'), '--json', '--state-dir', STATE], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // The last line of the set-up: the walk starts right after it.
    await new Promise<void>((resolve) =>
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
        if (/bound .* read-only at/.test(err)) resolve();
      }),
    );
    child.kill('SIGINT');
    const code = await exited;
    expect(code, `${out}\n${err}`).toBe(130);
    // Where the walk was when it saw the signal (a safe point: in big.bin, or an entry after it).
    const e = (JSON.parse(out) as { error: { code: string; message: string } }).error;
    expect(e.code, out).toBe('INTERRUPTED');
    expect(e.message, out).toMatch(/^interrupted by SIGINT while comparing [^;]+; nothing was left behind \(undone: .*dm device snapstore-diff-ext4-view\)$/s);
    expect(leftovers()).toEqual([]);
  });

  test('refused after part of the work was made (origin mounted only as a folder): the refusal names it, and nothing is left', () => {
    const type = 'ext4';
    const sub = '/tmp/mnt/d-sub';
    fs.mkdirSync(sub, { recursive: true });
    run('mount', ['--bind', `${mnt(type)}/dir`, sub]);
    run('umount', [mnt(type)]);
    try {
      const d = snapstore(['diff', name(type), '--json']);
      expect(d.status, d.said).toBe(3);
      expect((d.json as { error: { code: string; message: string } }).error).toMatchObject({ code: 'ORIGIN_MOUNTED' });
      expect((d.json as { error: { message: string } }).error.message).toMatch(/mounted only as a folder of its filesystem \(\/dir at \/tmp\/mnt\/d-sub\).*nothing was left behind \(undone: .*snapstore-diff-ext4-view/s);
      expect(leftovers()).toEqual([]);
    } finally {
      run('umount', [sub]);
      run('mount', [dev(type), mnt(type)]);
    }
  });

  test('refused: no such snapshot; a committed checkpoint (its old view is gone)', () => {
    const none = snapstore(['diff', 'nothing-here', '--json']);
    expect(none.status, none.said).toBe(4);
    expect(none.json).toMatchObject({ error: { code: 'NO_SUCH_SNAPSHOT' } });
    for (const f of FILESYSTEMS) {
      const c = snapstore(['commit', name(f.type), '--json']);
      expect(c.status, c.said).toBe(0);
    }
    const d = snapstore(['diff', name('ext4'), '--json']);
    expect(d.status, d.said).toBe(3);
    expect(d.json).toMatchObject({ error: { code: 'BAD_STATE', message: expect.stringMatching(/is committed: its snapshot is gone/) } });
    expect(leftovers()).toEqual([]);
    expect(run('dmsetup', ['ls'])).not.toMatch(/snapstore-/);
  });
});
