// `snapstore doctor` on this machine: one line per finding (ok / warn /
// fail, the check, what and why, the fix) and a count; --json a stable array
// of {check, status, message, fix} under `findings`; exit 1 when a check failed (the built CLI,
// as a process). This machine's kernel has no device-mapper: doctor says so,
// with the fix.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/commands/doctor.js';
import { capture } from '../support/capture.js';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-cli-doctor-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
const stateDir = path.join(scratch, 'state');
/** Whether this kernel has device-mapper (it registers the misc device "device-mapper"). */
const hasDm = fs.readFileSync('/proc/misc', 'utf8').split('\n').some((l) => l.trim().endsWith(' device-mapper'));
/** The CLI bundle bin/snapstore runs (npm run build; bash scripts/setup builds it, as CI does). */
const BUILT = fs.existsSync('dist/cli-bundle/main.js');

/** The command's run(), as commander calls it for `doctor [PATH] --state-dir DIR`. */
async function doctor(options: { path?: string; json?: boolean } = {}) {
  const c = capture({ json: options.json ?? false });
  await run({ stateDir, ...(options.path !== undefined ? { path: options.path } : {}) }, c.ctx);
  return c;
}

const MACHINE = ['root', 'device-mapper', 'dm-targets', 'kernel-write-mounted', 'state-dir', 'state-dir-at-boot', 'boot-integration'];
const PATH_CHECKS = ['filesystem', 'checkpoint', 'update-mode', 'state-dir-location', 'update-agents'];

describe('snapstore doctor', () => {
  it('text: one line per machine check in a fixed order, then the count; this kernel without device-mapper fails with the fix, and the command says it failed (exit 1)', async () => {
    const c = await doctor();
    const lines = c.out;
    const findings = lines.slice(0, -1);
    expect(findings.map((l) => /^(ok|warn|fail) +([\w-]+): /.exec(l)?.[2])).toEqual(MACHINE);
    const counted = (s: string) => findings.filter((l) => l.startsWith(`${s} `)).length;
    expect(lines.at(-1)).toBe(`${counted('fail')} failed, ${counted('warn')} to look at, ${counted('ok')} ok`);
    const dm = findings[1]!;
    if (hasDm) {
      expect(dm).toMatch(/^ok +device-mapper: \/dev\/mapper\/control answers/);
    } else {
      expect(dm).toMatch(/^fail +device-mapper: device-mapper is not available: \/dev\/mapper\/control: .*; fix: (boot a kernel built with device-mapper|modprobe dm-mod)/);
      expect(findings[2]).toMatch(/^fail +dm-targets: .*; fix: see device-mapper$/);
      expect(c.outcome.failed).toBe(true);
    }
    expect(c.outcome.failed).toBe(counted('fail') > 0);
  });

  it('--json with a path: the machine checks and the path\'s, each exactly {check, status, message, fix}', async () => {
    const c = await doctor({ path: scratch, json: true });
    const findings = (c.results[0] as { findings: Record<string, unknown>[] }).findings;
    expect(findings.map((f) => f['check'])).toEqual([...MACHINE, ...PATH_CHECKS]);
    for (const f of findings) {
      expect(Object.keys(f)).toEqual(['check', 'status', 'message', 'fix']);
      expect(['ok', 'warn', 'fail']).toContain(f['status']);
      expect(typeof f['message']).toBe('string');
      expect(f['fix'] === null || typeof f['fix'] === 'string').toBe(true);
      if (f['status'] !== 'ok') expect(f['fix']).toEqual(expect.any(String));
    }
    const byCheck = Object.fromEntries(findings.map((f) => [f['check'], f]));
    // The scratch folder is on this machine's root filesystem, and the state directory with it.
    expect(byCheck['state-dir-location']).toMatchObject({ status: 'fail', message: expect.stringContaining('the filesystem being snapshotted') });
    if (!hasDm) expect(byCheck['checkpoint']).toMatchObject({ status: 'fail', fix: expect.stringMatching(/^the device-mapper fix first/) });
    expect(c.outcome.failed).toBe(true);
  });

  it('a path that is not there: the filesystem check says so, and the path\'s other checks are not run', async () => {
    const findings = ((await doctor({ path: path.join(scratch, 'nothing-here'), json: true })).results[0] as { findings: { check: string; status: string; message: string }[] }).findings;
    expect(findings.at(-1)).toMatchObject({ check: 'filesystem', status: 'fail', message: expect.stringContaining('ENOENT') });
    expect(findings).toHaveLength(MACHINE.length + 1);
  });

  it.runIf(BUILT || process.env['CI'])('as a process: --json is the findings alone on stdout, and the exit code is 1 when a check failed', async () => {
    const r = await execa('bin/snapstore', ['doctor', scratch, '--json', '--state-dir', stateDir], { reject: false });
    const { findings } = JSON.parse(r.stdout) as { findings: { check: string; status: string }[] };
    expect(findings.map((f) => f.check)).toEqual([...MACHINE, ...PATH_CHECKS]);
    expect(r.exitCode).toBe(findings.some((f) => f.status === 'fail') ? 1 : 0);
    if (!hasDm) expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe('');
    const text = await execa('bin/snapstore', ['--json', 'doctor', '--state-dir', stateDir], { reject: false });
    expect((JSON.parse(text.stdout) as { findings: unknown[] }).findings.length).toBe(MACHINE.length);
  });
});
