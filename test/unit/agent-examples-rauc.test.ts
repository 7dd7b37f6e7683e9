// RAUC's and SWUpdate's recipes (examples/rauc, examples/swupdate, examples/common): every hook parses and passes shellcheck
// (with the library it sources, and the VM's RAUC bootloader backend), and every
// unit verifies clean with `systemd-analyze`, its ExecStart a hook of examples/ at
// the place the READMEs install it, ordered where its README says; the hooks'
// decisions the VM suite does not reach, with stand-ins for snapstore and rauc.
// What the hooks do with the real clients: test/kernel/agents-rauc-swupdate.test.ts.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { describeShellScripts } from '../support/shell-scripts.js';
import { expectVerifiesClean, values } from '../support/systemd-units.js';

const files = (dir: string) => fs.readdirSync(dir).map((f) => path.join(dir, f));
const HOOKS = ['examples/rauc', 'examples/swupdate'].flatMap(files).filter((f) => path.basename(f).startsWith('snapstore-') && !f.endsWith('.service'));
const UNITS = ['examples/rauc', 'examples/swupdate'].flatMap(files).filter((f) => f.endsWith('.service'));

describeShellScripts('hooks', [...HOOKS, 'test/kernel/agents-rauc-bootloader.sh'], ['examples/common/snapstore-checkpoint.sh']);

describe('units', () => {
  it.each(UNITS)('%s verifies clean; what it runs is a hook of examples/, installed under /usr/lib/snapstore', async (unit) => {
    const text = fs.readFileSync(unit, 'utf8');
    const [exec] = values(text, 'ExecStart');
    if (exec!.startsWith('/usr/lib/snapstore/')) {
      const hook = path.join('examples', exec!.slice('/usr/lib/snapstore/'.length));
      expect(HOOKS).toContain(hook);
      // Verified as installed: the hook where the unit looks for it, the units it requires beside it.
      const companions = Object.fromEntries(values(text, 'Requires').filter((u) => UNITS.some((f) => path.basename(f) === u)).map((u) => [u, fs.readFileSync(path.join(path.dirname(unit), u), 'utf8')]));
      await expectVerifiesClean(text.replace(exec!, path.resolve(hook)), path.basename(unit), companions);
    } else {
      expect(exec).toBe('/usr/bin/rauc');
      await expectVerifiesClean(text, path.basename(unit));
    }
  });

  it.each(UNITS.filter((u) => /commit|mark-good/.test(u)))('%s runs only in a boot that reached boot-complete.target', (unit) => {
    const text = fs.readFileSync(unit, 'utf8');
    expect(values(text, 'Requires')).toContain('boot-complete.target');
    expect(values(text, 'After')).toContain('boot-complete.target');
  });

  it('snapstore-rauc-commit.service runs only once rauc-mark-good.service succeeded', () => {
    const text = fs.readFileSync('examples/rauc/snapstore-rauc-commit.service', 'utf8');
    expect(values(text, 'Requires')).toContain('rauc-mark-good.service');
    expect(values(text, 'After')).toContain('rauc-mark-good.service');
  });

  it.each(UNITS.filter((u) => /mark-bad|failed/.test(u)))('%s reboots, whether or not it succeeded', (unit) => {
    const text = fs.readFileSync(unit, 'utf8');
    expect(values(text, 'SuccessAction')).toEqual(['reboot']);
    expect(values(text, 'FailureAction')).toEqual(['reboot']);
  });
});

/**
 * The hooks' decisions, each branch, with stand-ins for what they call: `snapstore`
 * (answers `status --json` from a file, records every call), `rauc` (answers
 * `status --output-format=shell` from a file) and the settings file. The real
 * clients and snapstore run them in test/kernel/agents-rauc-swupdate.test.ts; the
 * branches here are those the VM suite does not reach.
 */
describe('hooks: decisions', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-hooks-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(`${dir}/state`);
  fs.mkdirSync(`${dir}/bin`);
  fs.writeFileSync(`${dir}/bin/snapstore`, `#!/bin/sh\necho "$*" >> ${dir}/calls\n[ "$1" = status ] || exit 0\n[ -f ${dir}/status.json ] || exit 1\ncat ${dir}/status.json\n`, { mode: 0o755 });
  fs.writeFileSync(`${dir}/bin/rauc`, `#!/bin/sh\n[ "$1" = status ] && [ "$2" = --output-format=shell ] && cat ${dir}/rauc-status\n`, { mode: 0o755 });

  /** Runs hook `hook` with these checkpoints (name, state, boots used) and settings; what it said and the snapstore calls that change something. */
  async function hook(hookPath: string, checkpoints: [string, string, number][] | 'status fails', conf: string[] = [], env: Record<string, string> = {}) {
    fs.rmSync(`${dir}/calls`, { force: true });
    if (checkpoints === 'status fails') fs.rmSync(`${dir}/status.json`, { force: true });
    else fs.writeFileSync(`${dir}/status.json`, JSON.stringify({ schemaVersion: 1, snapshots: checkpoints.map(([name, state, used]) => ({ name, state, bootAttempts: { used, budget: 1, spent: false } })) }));
    fs.writeFileSync(`${dir}/conf`, [`SNAPSTORE_ORIGIN=/dev/mapper/data`, `SNAPSTORE_STORE_DIR=/data/.snapstore`, `SNAPSTORE_STATE_DIR=${dir}/state`, ...conf, ''].join('\n'));
    const r = await execa(hookPath, [], { reject: false, env: { PATH: `${dir}/bin:${process.env.PATH}`, SNAPSTORE_CHECKPOINT_CONF: `${dir}/conf`, ...env } });
    const calls = fs.existsSync(`${dir}/calls`) ? fs.readFileSync(`${dir}/calls`, 'utf8').split('\n').filter((l) => l && !l.startsWith('status')) : [];
    return { exit: r.exitCode, said: r.stderr, calls: calls.map((c) => c.replace(` --state-dir ${dir}/state`, '')) };
  }
  const ustate = (v: string) => [`swupdate_ustate() { echo ${v}; }`];

  it('swupdate-commit, ustate 3 and the checkpoint live (a failed install, then a reboot): discarded', async () => {
    const r = await hook('examples/swupdate/snapstore-swupdate-commit', [['swupdate', 'active', 1]], ustate('3'));
    expect(r).toMatchObject({ exit: 0, calls: ['discard swupdate --wait-lock 60'] });
    expect(r.said).toMatch(/discarding swupdate: SWUpdate's ustate is 3 \(the install failed\)/);
  });

  it('swupdate-commit, ustate 0 before any boot ran the update: not committed', async () => {
    const r = await hook('examples/swupdate/snapstore-swupdate-commit', [['swupdate', 'active', 0]], ustate('0'));
    expect(r).toMatchObject({ exit: 0, calls: [] });
    expect(r.said).toMatch(/not committing swupdate: no boot has run the update yet/);
  });

  it('swupdate-commit, a ustate it does not know: left alone, said', async () => {
    const r = await hook('examples/swupdate/snapstore-swupdate-commit', [['swupdate', 'active', 1]], ustate('7'));
    expect(r).toMatchObject({ exit: 0, calls: [] });
    expect(r.said).toMatch(/ustate is '7', which means nothing known here/);
  });

  it.each(['examples/swupdate/snapstore-swupdate-commit', 'examples/swupdate/snapstore-swupdate-failed', 'examples/swupdate/snapstore-swupdate-pre'])('%s fails when snapstore status fails (never taken for "no checkpoint")', async (h) => {
    const r = await hook(h, 'status fails', ustate('0'));
    expect(r.exit).not.toBe(0);
    expect(r.calls).toEqual([]);
  });

  it('swupdate-pre: a checkpoint no boot counted is discarded before the new one; finished ones are ignored', async () => {
    const r = await hook('examples/swupdate/snapstore-swupdate-pre', [['swupdate', 'active', 0], ['swupdate-old', 'committed', 1]], ['SNAPSTORE_SIZE=64M', 'SNAPSTORE_BOOT_ATTEMPTS=3']);
    expect(r).toMatchObject({ exit: 0, calls: ['discard swupdate --wait-lock 60', 'create swupdate --origin /dev/mapper/data --store /data/.snapstore/swupdate.store --size 64M --boot-attempts 3 --wait-lock 60'] });
  });

  it('swupdate-pre: a checkpoint a boot counted, or one rolling back, refuses the install, with the way out', async () => {
    for (const [state, used] of [['active', 1], ['rollback-pending', 1], ['merging', 0]] as const) {
      const r = await hook('examples/swupdate/snapstore-swupdate-pre', [['swupdate', state, used]]);
      expect(r).toMatchObject({ exit: 1, calls: [] });
      expect(r.said).toMatch(new RegExp(`refusing the update: checkpoint swupdate of an earlier update is ${state} after ${used} boot\\(s\\).*way out: \`snapstore rollback swupdate\``));
    }
  });

  it('swupdate-pre: the settings file must name the origin and the store folder', async () => {
    fs.writeFileSync(`${dir}/status.json`, '{"snapshots":[]}');
    const r = await execa('examples/swupdate/snapstore-swupdate-pre', [], { reject: false, env: { PATH: `${dir}/bin:${process.env.PATH}`, SNAPSTORE_CHECKPOINT_CONF: `${dir}/none` } });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/set SNAPSTORE_ORIGIN \(the dm device of the data filesystem\) in .*\/none/);
  });

  it('rauc pre-install: no target slot with a bootname: refused, with the way out', async () => {
    const r = await hook('examples/rauc/snapstore-pre-install', [], [], { RAUC_TARGET_SLOTS: '1', RAUC_SLOT_NAME_1: 'appfs.1' });
    expect(r).toMatchObject({ exit: 1, calls: [] });
    expect(r.said).toMatch(/none of the target slots \(RAUC_TARGET_SLOTS='1'\) has a bootname.*way out: give the bootable slots a bootname= in system.conf/);
  });

  it('rauc commit: a live checkpoint of the primary slot, not booted (the reboot into it is to come), is left alone', async () => {
    fs.writeFileSync(`${dir}/rauc-status`, "RAUC_SYSTEM_BOOTED_BOOTNAME='A'\nRAUC_BOOT_PRIMARY='rootfs.1'\nRAUC_SLOTS='1 2'\nRAUC_SLOT_NAME_1='rootfs.1'\nRAUC_SLOT_BOOTNAME_1='B'\nRAUC_SLOT_BOOT_STATUS_1='good'\nRAUC_SLOT_NAME_2='rootfs.0'\nRAUC_SLOT_BOOTNAME_2='A'\nRAUC_SLOT_BOOT_STATUS_2='good'\n");
    const r = await hook('examples/rauc/snapstore-rauc-commit', [['rauc-B', 'active', 0]]);
    expect(r).toMatchObject({ exit: 0, calls: [] });
    expect(r.said).toMatch(/no checkpoint rauc-A to commit/);
  });
});
