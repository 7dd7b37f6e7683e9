// The update-agent recipes in examples/mender and examples/greenboot, file by file:
// every script parses, is executable and passes shellcheck; the Mender scripts are
// named as Mender runs them; the greenboot units verify clean. Then each script's
// choices, run with a `snapstore` on PATH that answers `status` with a state given
// by the test and records every call: the branches a real run in the VM does not
// reach (a create cut short, a store that filled up) and greenboot's, which needs
// an OSTree system. The Mender scripts on a real checkpoint: test/kernel/agents-mender.test.ts.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';

const MENDER = ['ArtifactInstall_Enter_50_snapstore', 'ArtifactCommit_Leave_50_snapstore', 'ArtifactRollback_Enter_50_snapstore', 'ArtifactFailure_Enter_50_snapstore'].map((s) => `examples/mender/${s}`);
const GREENBOOT = ['examples/greenboot/snapstore-ostree', 'examples/greenboot/green.d/50-snapstore-commit.sh', 'examples/greenboot/red.d/50-snapstore-rollback.sh'];
const UNITS = ['snapstore-ostree-staged.path', 'snapstore-ostree-checkpoint.service'];
const hasShellcheck = (await execa('shellcheck', ['--version'], { reject: false })).exitCode === 0;
const hasAnalyze = (await execa('systemd-analyze', ['--version'], { reject: false })).exitCode === 0;

/** A test that needs a tool the machine may lack: skipped without it, failed with CI set (bash scripts/setup brings it). */
function needs(have: boolean, tool: string, name: string, fn: () => Promise<void>): void {
  if (have) it(name, fn);
  else if (process.env.CI) it(name, () => expect.fail(`${tool} is not installed: run bash scripts/setup`));
  else it.skip(`${name} (${tool} is not installed)`, fn);
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-agents-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('the scripts', () => {
  it.each([...MENDER, ...GREENBOOT])('%s parses, and is executable', async (script) => {
    expect((await execa('sh', ['-n', script], { reject: false })).stderr).toBe('');
    expect(fs.statSync(script).mode & 0o111).toBe(0o111);
  });

  needs(hasShellcheck, 'shellcheck', 'every script passes shellcheck (the settings files they source included)', async () => {
    const r = await execa('shellcheck', ['-x', ...MENDER, ...GREENBOOT], { reject: false });
    expect(r.stdout).toBe('');
    expect(r.exitCode).toBe(0);
  });

  it('the Mender scripts are named as Mender runs them: (State)_(Enter|Leave|Error)_NN(_desc)', () => {
    // The pattern of Mender 3.4's statescript/executor.go, anchored as its length check does.
    for (const s of MENDER) expect(path.basename(s)).toMatch(/^(ArtifactInstall|ArtifactCommit|ArtifactRollback|ArtifactFailure)_(Enter|Leave|Error)_[0-9][0-9](_\S+)?$/);
  });
});

needs(hasAnalyze, 'systemd-analyze', 'the greenboot path unit and its service verify clean; the path watches OSTree staging and starts the service, which runs the checkpoint once', async () => {
  const dir = fs.mkdtempSync(path.join(scratch, 'units-'));
  for (const u of UNITS) fs.copyFileSync(`examples/greenboot/${u}`, path.join(dir, u));
  const r = await execa('systemd-analyze', ['verify', ...UNITS.map((u) => path.join(dir, u))], { reject: false, env: { SYSTEMD_LOG_LEVEL: 'warning' } });
  expect(r.stderr.split('\n').filter((l) => l.includes('snapstore-ostree'))).toEqual([]);
  expect(r.exitCode).toBe(0);
  const unitPath = fs.readFileSync('examples/greenboot/snapstore-ostree-staged.path', 'utf8');
  expect(unitPath).toMatch(/^PathExists=\/run\/ostree\/staged-deployment$/m);
  expect(unitPath).toMatch(/^Unit=snapstore-ostree-checkpoint\.service$/m);
  const service = fs.readFileSync('examples/greenboot/snapstore-ostree-checkpoint.service', 'utf8');
  expect(service).toMatch(/^ExecStart=\/usr\/bin\/env snapstore-ostree checkpoint$/m);
  expect(service).toMatch(/^RemainAfterExit=yes$/m);
});

interface Stubbed {
  exitCode: number | undefined;
  out: string;
  /** the snapstore command lines the script ran, `status` included */
  calls: string[];
}

/**
 * Runs `script` with a stub `snapstore` first on PATH: `status NAME --json` prints what
 * the real one prints for a snapshot in `state` (its error for "none"), every other
 * command succeeds; each call is recorded. The settings file is the example's.
 */
async function stubbed(script: string, state: string, opts: { health?: string; args?: string[]; conf?: string } = {}): Promise<Stubbed> {
  const dir = fs.mkdtempSync(path.join(scratch, 'stub-'));
  const status =
    state === 'none'
      ? { error: { code: 'NO_SUCH_SNAPSHOT', message: 'no snapshot named "x" in /var/lib/snapstore', hint: '`snapstore status` lists them' } }
      : { schemaVersion: 1, snapshots: [{ name: 'x', mode: 'checkpoint', state, origin: { dmName: 'data', device: '/dev/mapper/data' }, health: opts.health ?? 'valid', agrees: true }] };
  fs.writeFileSync(path.join(dir, 'status.json'), `${JSON.stringify(status, null, 2)}\n`);
  fs.writeFileSync(
    path.join(dir, 'snapstore'),
    `#!/bin/sh\necho "$*" >> ${dir}/calls\nif [ "$1" = status ]; then cat ${dir}/status.json; [ ${state} != none ]; exit; fi\necho "snapstore $1: done"\n`,
    { mode: 0o755 },
  );
  const conf = opts.conf ?? path.resolve(script.includes('mender') ? 'examples/mender/snapstore-mender.conf' : 'examples/greenboot/snapstore-ostree.conf');
  const env = { PATH: `${dir}:${path.resolve('examples/greenboot')}:/usr/bin:/bin`, SNAPSTORE_MENDER_CONF: conf, SNAPSTORE_OSTREE_CONF: conf };
  const r = await execa(script.endsWith('.sh') ? 'bash' : path.resolve(script), script.endsWith('.sh') ? [script, ...(opts.args ?? [])] : (opts.args ?? []), { env, extendEnv: false, reject: false, all: true });
  const calls = fs.existsSync(path.join(dir, 'calls')) ? fs.readFileSync(path.join(dir, 'calls'), 'utf8').trim().split('\n') : [];
  return { exitCode: r.exitCode, out: r.all ?? '', calls: calls.map((c) => c.replace(/ --state-dir \/var\/lib\/snapstore( --wait-lock 120)?| --json/g, '')) };
}

describe('Mender scripts, their choices (snapstore stubbed: these states cannot be made on demand in a real run)', () => {
  const install = 'examples/mender/ArtifactInstall_Enter_50_snapstore';
  const failure = 'examples/mender/ArtifactFailure_Enter_50_snapstore';
  const create = 'create mender --origin /dev/mapper/data --store /data/.snapstore/mender.store --size 10%';

  it('ArtifactInstall_Enter: a create cut short is undone by recover, then the checkpoint taken', async () => {
    const r = await stubbed(install, 'creating');
    expect(r.exitCode, r.out).toBe(0);
    expect(r.calls).toEqual(['status mender', 'recover', create]);
  });

  it("ArtifactInstall_Enter: the last update's rollback still merging is waited for first", async () => {
    const r = await stubbed(install, 'merging');
    expect(r.exitCode, r.out).toBe(0);
    expect(r.calls).toEqual(['status mender', 'rollback mender --wait', create]);
  });

  it("ArtifactInstall_Enter: the last update's rollback waiting for the boot refuses the install, saying reboot", async () => {
    const r = await stubbed(install, 'rollback-pending');
    expect(r.exitCode).toBe(1);
    expect(r.out).toMatch(/the rollback of checkpoint "mender" .* starts at the next boot.*\n {2}way out: reboot, then install the update again/);
    expect(r.calls).toEqual(['status mender']);
  });

  it('ArtifactInstall_Enter: a checkpoint after a commit is a new one', async () => {
    const r = await stubbed(install, 'committed');
    expect(r.exitCode, r.out).toBe(0);
    expect(r.calls).toEqual(['status mender', create]);
  });

  it('ArtifactFailure_Enter: a checkpoint whose store filled up is discarded, saying the way back is lost', async () => {
    const r = await stubbed(failure, 'active', { health: 'invalid' });
    expect(r.exitCode, r.out).toBe(0);
    expect(r.out).toMatch(/is invalid \(its store filled up\): the data cannot be rolled back; discarding it/);
    expect(r.calls).toEqual(['status mender', 'discard mender']);
  });

  it('ArtifactFailure_Enter: a live checkpoint is rolled back; none is nothing to do', async () => {
    expect((await stubbed(failure, 'active')).calls).toEqual(['status mender', 'rollback mender --wait']);
    const none = await stubbed(failure, 'none');
    expect(none.exitCode, none.out).toBe(0);
    expect(none.calls).toEqual(['status mender']);
  });

  it.each(MENDER)('%s without its settings file exits 1, naming the file and the way out, and runs nothing', async (script) => {
    const r = await stubbed(script, 'active', { conf: path.join(scratch, 'absent.conf') });
    expect(r.exitCode).toBe(1);
    expect(r.out).toMatch(/absent\.conf is missing: .*\n {2}way out: install snapstore-mender\.conf/);
    expect(r.calls).toEqual([]);
  });
});

describe('greenboot scripts (snapstore stubbed: no OSTree system here)', () => {
  const create = 'create ostree --origin /dev/mapper/data --store /var/data/.snapstore/ostree.store --size 10%';
  const checkpoint = (state: string) => stubbed('examples/greenboot/snapstore-ostree', state, { args: ['checkpoint'] });

  it('a staged deployment takes the checkpoint; staged again, the checkpoint is kept', async () => {
    expect((await checkpoint('none')).calls).toEqual(['status ostree', create]);
    expect((await checkpoint('rolled-back')).calls).toEqual(['status ostree', create]);
    const again = await checkpoint('active');
    expect(again.exitCode, again.out).toBe(0);
    expect(again.out).toMatch(/checkpoint "ostree" is there already .*: kept/);
    expect(again.calls).toEqual(['status ostree']);
  });

  it('a checkpoint left unfinished refuses a new one, with the way out', async () => {
    const r = await checkpoint('rollback-pending');
    expect(r.exitCode).toBe(1);
    expect(r.out).toMatch(/checkpoint "ostree" is rollback-pending: .*\n {2}way out: .*reboot/);
  });

  it('green.d commits a live checkpoint, and does nothing on a boot after none or after a rollback', async () => {
    const green = 'examples/greenboot/green.d/50-snapstore-commit.sh';
    expect((await stubbed(green, 'active')).calls).toEqual(['status ostree', 'commit ostree']);
    for (const state of ['none', 'committed', 'merging', 'rolled-back']) {
      const r = await stubbed(green, state);
      expect(r.exitCode, r.out).toBe(0);
      expect(r.calls).toEqual(['status ostree']);
    }
  });

  it('red.d rolls a live checkpoint back (again when it is pending), and does nothing without one', async () => {
    const red = 'examples/greenboot/red.d/50-snapstore-rollback.sh';
    expect((await stubbed(red, 'active')).calls).toEqual(['status ostree', 'rollback ostree']);
    expect((await stubbed(red, 'rollback-pending')).calls).toEqual(['status ostree', 'rollback ostree']);
    const none = await stubbed(red, 'none');
    expect(none.exitCode, none.out).toBe(0);
    expect(none.calls).toEqual(['status ostree']);
  });

  it('an unknown action exits 1, naming the ones it takes', async () => {
    const r = await stubbed('examples/greenboot/snapstore-ostree', 'active', { args: ['frobnicate'] });
    expect(r.exitCode).toBe(1);
    expect(r.out).toMatch(/no such action "frobnicate"\n {2}way out: give checkpoint, commit or rollback/);
  });
});
