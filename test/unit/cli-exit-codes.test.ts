// The exit codes (src/cli/exit-codes.ts): every error code has a class, the
// classes have distinct codes, and real command lines end with the code of
// their class: the whole CLI in this process, on the fake device-mapper.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CODE_CLASS, EXIT, EXIT_MEANING, exitClassOf } from '../../src/cli/exit-codes.js';
import { dmError } from '../../src/dm/errors.js';
import { ERROR_CODES, SnapstoreError } from '../../src/errors.js';
import { ERRNO } from '../../src/linux/errno.js';
import { SyscallError } from '../../src/linux/errors.js';
import { withStateLock } from '../../src/state/lock.js';
import { StateDir } from '../../src/state/state-dir.js';
import { cli, newSystem, system } from '../support/cli-fake.js';
import { ORIGIN_PATH } from '../support/fake-platform.js';

vi.mock('../../src/snapshot/platform.js', async (original) => (await import('../support/cli-fake.js')).fakePlatformModule(original));
vi.mock('../../src/dm/client.js', async (original) => (await import('../support/cli-fake.js')).fakeClientModule(original));

describe('the table', () => {
  it('gives every error code a class, and nothing else one', () => {
    expect(Object.keys(CODE_CLASS).sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('gives each class its own exit code, none of them a signal\'s (128+N), each with its meaning', () => {
    const codes = Object.values(EXIT);
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) expect(c).toBeLessThan(128);
    expect(Object.keys(EXIT_MEANING).sort()).toEqual(Object.keys(EXIT).sort());
  });

  it.each([
    ['a usage error, whatever its code', new SnapstoreError('NOT_ROOT', 'x', { usage: true }), 'usage'],
    ['a refused dm ioctl', dmError('load', 'data', ERRNO.EINVAL), 'kernel'],
    ['a dm device in use', dmError('remove', 'data', ERRNO.EBUSY), 'busy'],
    ['a failed system call: EBUSY', new SyscallError('open', ERRNO.EBUSY, '/dev/sda'), 'busy'],
    ['a failed system call: ENOENT', new SyscallError('open', ERRNO.ENOENT, '/nope'), 'notFound'],
    ['a failed system call with no class of its own', new SyscallError('write', ERRNO.EIO, '/dev/sda'), 'failed'],
    ['not ours (a bug)', new Error('boom'), 'failed'],
  ] as const)('%s: %s', (_what, err, cls) => {
    expect(exitClassOf(err)).toBe(cls);
  });
});

describe('a real command line ends with the code of its class', () => {
  let stateDir: string;
  beforeEach(() => {
    newSystem();
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-exit-'));
  });
  afterEach(() => fs.rmSync(stateDir, { recursive: true, force: true }));

  const create = (name = 'up1', ...more: string[]) => cli(['create', name, '--origin', ORIGIN_PATH, '--store', `/data/.snapstore/${name}.store`, '--size', '16M', '--state-dir', stateDir, ...more]);

  it('0: done', async () => {
    const r = await create();
    expect(r.errors, r.errors.join('\n')).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('2: a size it cannot read', async () => {
    const r = await create('up1', '--size', '5MB');
    expect(r).toMatchObject({ code: 2, errors: [expect.stringMatching(/--size "5MB" is ambiguous/), expect.any(String)] });
  });

  it('3: refused as unsafe (a state directory others can write)', async () => {
    fs.chmodSync(stateDir, 0o777);
    const r = await create();
    expect(r.code).toBe(3);
    expect(r.errors[0]).toMatch(/writable by its group and others/);
  });

  it('3: refused (commit of a snapshot that is not active)', async () => {
    await create();
    expect((await cli(['discard', 'up1', '--state-dir', stateDir])).code).toBe(0);
    const r = await cli(['rollback', 'up1', '--state-dir', stateDir, '--json']);
    expect(r.code).toBe(3);
    expect(r.json).toMatchObject({ error: { code: 'BAD_STATE' } });
  });

  it('4: not found (no snapshot of that name)', async () => {
    const r = await cli(['commit', 'nope', '--state-dir', stateDir, '--json']);
    expect(r.code).toBe(4);
    expect(r.json).toMatchObject({ error: { code: 'NO_SUCH_SNAPSHOT' } });
  });

  it('5: busy (another command holds the lock)', async () => {
    await create();
    const r = await withStateLock(StateDir.need(stateDir), () => cli(['commit', 'up1', '--state-dir', stateDir, '--json']));
    expect(r.code).toBe(5);
    expect(r.json).toMatchObject({ error: { code: 'LOCKED' } });
  });

  it('6: a device-mapper ioctl failed', async () => {
    newSystem().dm.failNext('suspend', ERRNO.EIO);
    const r = await create('up1', '--json');
    expect(r.code).toBe(6);
    expect(r.json).toMatchObject({ error: { code: 'EIO' } });
  });

  it('7: the rollback is lost (the kernel invalidated the store)', async () => {
    await create();
    // the same machine after a reboot, the store's header invalidated (it filled)
    system.platform.reboot();
    system.platform.invalidate('up1');
    const r = await cli(['activate', '--state-dir', stateDir]);
    expect(r.code).toBe(7);
    expect(r.errors[0]).toBe('snapstore: the rollback of "up1" is lost: the kernel invalidated its store');
    // with --json, the one document on stdout is the result, which says so
    system.platform.reboot();
    const j = await cli(['activate', '--state-dir', stateDir, '--json']);
    expect(j.code).toBe(7);
    expect(j.results).toEqual([{ schemaVersion: 1, snapshots: [expect.objectContaining({ name: 'up1', action: 'invalid' })] }]);
  });
});

describe.runIf(fs.existsSync('dist/cli-bundle/main.js') || process.env['CI'])('as a process (bin/snapstore)', () => {
  it('exits with the code of the class: 4 for a store that is not there, 2 for an unknown option', async () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-exit-'));
    try {
      const missing = await execa('bin/snapstore', ['store', 'verify', 'nope', '--state-dir', stateDir], { reject: false });
      expect(missing.exitCode, missing.stderr).toBe(EXIT.notFound);
      expect(missing.stderr).toMatch(/^snapstore: .*"nope"/);
      const usage = await execa('bin/snapstore', ['store', 'list', '--bogus', '--state-dir', stateDir], { reject: false });
      expect(usage.exitCode).toBe(EXIT.usage);
    } finally {
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
