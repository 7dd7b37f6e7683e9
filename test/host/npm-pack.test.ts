// The package as a user gets it: `npm pack` (prepack builds dist/), the tarball
// installed into an empty folder with `npm install TARBALL`, and the installed
// `snapstore` run from there (--version, doctor, doctor --json) and imported as
// a library. This host has no device-mapper, so doctor reports failed checks
// and exits 1: what is asserted is that it ran and said so, check by check.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectValid } from '../support/json-schema.js';

const version = (JSON.parse(fs.readFileSync('package.json', 'utf8')) as { version: string }).version;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-pack-'));
const app = path.join(work, 'app');
/** npm's own settings of the run that started vitest (npm test) must not reach the install. */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
let tarball: string;
let files: string[];
let size: number;
let packedAt: number;

/** A command in the folder the package was installed in, as a user runs it. */
function inApp(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { cwd: app, env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, said: `exit ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}` };
}

beforeAll(() => {
  packedAt = Date.now();
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as Array<{ filename: string; size: number; files: Array<{ path: string }> }>;
  tarball = path.join(work, packed!.filename);
  files = packed!.files.map((f) => f.path);
  size = packed!.size;
  console.log(`npm pack: ${packed!.filename}, ${(size / 1024).toFixed(0)} KiB, ${files.length} files`);
  fs.mkdirSync(app);
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
}, 300_000);
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('npm pack', () => {
  it('the tarball holds the CLI bundle, the library, the boot files; no sources, tests or source maps; lean', () => {
    for (const f of ['bin/snapstore', 'bin/package.json', 'dist/cli-bundle/main.js', 'dist/index.js', 'dist/index.d.ts', 'systemd/snapstore-activate.service', 'boot/image-files.cjs', 'package.json', 'README.md']) expect(files).toContain(f);
    expect(files.filter((f) => /^(src|test|scripts|fixtures|bench|node_modules)\//.test(f) || f.endsWith('.map') || f.startsWith('dist/cli/'))).toEqual([]);
    expect(size).toBeLessThan(600 * 1024);
  });

  it('packing built dist/ first (prepack): a clone packed without a build gets a working CLI', () => {
    expect(fs.statSync('dist/.build-stamp').mtimeMs).toBeGreaterThanOrEqual(packedAt - 1000);
  });

  it('installed into an empty folder: its runtime dependencies came with it', () => {
    for (const dep of ['koffi', 'execa', 'commander', 'cli-progress']) expect(fs.existsSync(path.join(app, 'node_modules', dep, 'package.json')), dep).toBe(true);
    expect(fs.existsSync(path.join(app, 'node_modules/.bin/snapstore'))).toBe(true);
  });

  it('npx snapstore --version', () => {
    const r = inApp('npx', ['--no', '--', 'snapstore', '--version']);
    expect(r.status, r.said).toBe(0);
    expect(r.stdout).toBe(`${version}\n`);
  });

  it('npx snapstore doctor runs: a line for each check and the count (exit 1 here: no device-mapper)', () => {
    const r = inApp('npx', ['--no', '--', 'snapstore', 'doctor']);
    expect([0, 1], r.said).toContain(r.status);
    expect(r.stdout).toMatch(/^(ok|warn|fail)\s+root: /m);
    expect(r.stdout).toMatch(/^(ok|warn|fail)\s+device-mapper: /m);
    expect(r.stdout).toMatch(/^(ok|warn|fail)\s+dm-targets: /m);
    expect(r.stdout).toMatch(/^\d+ failed, \d+ to look at, \d+ ok$/m);
    expect(r.status).toBe(/^\d+ failed/m.exec(r.stdout)?.[0] === '0 failed' ? 0 : 1);
    expect(r.stderr, r.said).not.toMatch(/\n\s+at /); // no stack trace: koffi and every chunk loaded
  });

  it('npx snapstore doctor --json: its findings, as its schema says', () => {
    const r = inApp('npx', ['--no', '--', 'snapstore', 'doctor', '--json']);
    const out = JSON.parse(r.stdout) as { schemaVersion: number; findings: Array<{ check: string; status: string; message: string }> };
    expectValid('doctor', out);
    const findings = out.findings;
    expect(findings.map((f) => f.check)).toEqual(expect.arrayContaining(['root', 'device-mapper', 'dm-targets', 'state-dir']));
    for (const f of findings) expect(['ok', 'warn', 'fail']).toContain(f.status);
  });

  it('the library imports from the installed package', () => {
    const r = inApp('node', ['--input-type=module', '-e', "const s = await import('snapstore'); console.log(Object.keys(s).sort().join(' '))"]);
    expect(r.status, r.said).toBe(0);
    expect(r.stdout.trim().split(' ')).toEqual(expect.arrayContaining(['snapshot', 'store', 'tree', 'doctor', 'SnapstoreError']));
  });
});
