// What the CLI prints where: --quiet keeps the result and errors and drops
// narration, warnings and progress; colour only on a terminal and never
// with NO_COLOR; progress bars only on a terminal. The context on streams
// the test owns, the whole CLI in this process on the fake device-mapper,
// and the built CLI as a process (on a pseudo-terminal through script(1)).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { colourWanted } from '../../src/cli/colour.js';
import { run as doctor } from '../../src/cli/commands/doctor.js';
import { processContext } from '../../src/cli/context.js';
import { capture } from '../support/capture.js';
import { cli, newSystem } from '../support/cli-fake.js';
import { ORIGIN_PATH } from '../support/fake-platform.js';

vi.mock('../../src/snapshot/platform.js', async (original) => (await import('../support/cli-fake.js')).fakePlatformModule(original));
vi.mock('../../src/dm/client.js', async (original) => (await import('../support/cli-fake.js')).fakeClientModule(original));

const ESC = '\x1b[';
/** A stream that keeps what is written to it, a terminal or not. */
function stream(isTTY: boolean) {
  const chunks: string[] = [];
  const s = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as Writable & { isTTY?: boolean; columns?: number };
  if (isTTY) {
    s.isTTY = true;
    s.columns = 80;
  }
  return { s: s as unknown as NodeJS.WriteStream, text: () => chunks.join('') };
}

let scratch: string;
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-output-'));
});
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('colour', () => {
  it.each([
    [true, {}, true],
    [true, { NO_COLOR: '1' }, false],
    // no-color.org: set to something; an empty NO_COLOR is as if unset
    [true, { NO_COLOR: '' }, true],
    [true, { TERM: 'dumb' }, false],
    [false, {}, false],
  ] as const)('a terminal: %s, environment %j: colour %s', (isTTY, env, want) => {
    expect(colourWanted({ isTTY }, env)).toBe(want);
  });

  it('the context: from stdout, and never with --json', () => {
    expect(processContext({ json: false, stdout: stream(true).s, stderr: stream(false).s, env: {} }).colour).toBe(true);
    expect(processContext({ json: false, stdout: stream(false).s, stderr: stream(true).s, env: {} }).colour).toBe(false);
    expect(processContext({ json: false, stdout: stream(true).s, stderr: stream(true).s, env: { NO_COLOR: '1' } }).colour).toBe(false);
    expect(processContext({ json: true, stdout: stream(true).s, stderr: stream(true).s, env: {} }).colour).toBe(false);
  });

  it("doctor colours its statuses when colour is wanted, and prints plain words otherwise", async () => {
    const stateDir = path.join(scratch, 'none');
    const plain = capture();
    await doctor({ stateDir }, plain.ctx);
    expect(plain.out.join('\n')).not.toContain(ESC);
    const coloured = capture({ colour: true });
    await doctor({ stateDir }, coloured.ctx);
    expect(coloured.out[0]).toMatch(/^\x1b\[(32mok  |33mwarn|31mfail)\x1b\[0m  root: /);
    // the same words once the colour is taken out
    expect(coloured.out.map((l) => l.replace(/\x1b\[\d+m/g, ''))).toEqual(plain.out);
  });
});

describe('progress bars', () => {
  const bar = (isTTY: boolean, json: boolean, quiet: boolean) => {
    const err = stream(isTTY);
    const ctx = processContext({ json, quiet, stdout: stream(isTTY).s, stderr: err.s, env: {} });
    const p = ctx.progress('merging', (n) => `${n}`);
    p.update(5, 10);
    p.stop();
    return err.text();
  };

  it('are drawn on a terminal', () => {
    expect(bar(true, false, false)).toMatch(/merging \[.*\] 50%/);
  });

  it.each([
    ['not on a terminal', false, false, false],
    ['not with --json', true, true, false],
    ['not with --quiet', true, false, true],
  ] as const)('%s', (_what, isTTY, json, quiet) => {
    expect(bar(isTTY, json, quiet)).toBe('');
  });
});

describe('--quiet', () => {
  it('the context: narration dropped; the result, --json and errors kept', () => {
    const out = stream(false);
    const err = stream(false);
    const ctx = processContext({ json: false, quiet: true, stdout: out.s, stderr: err.s, env: {} });
    ctx.out('the result');
    ctx.err('a step');
    ctx.error('snapstore: the error');
    expect(out.text()).toBe('the result\n');
    expect(err.text()).toBe('snapstore: the error\n');
  });

  it('create -q: the result line only, no narration; a refusal is still said', async () => {
    newSystem();
    const stateDir = fs.mkdtempSync(path.join(scratch, 'state-'));
    const args = ['create', 'up1', '--origin', ORIGIN_PATH, '--store', '/data/.snapstore/up1.store', '--size', '16M', '--state-dir', stateDir];
    const loud = await cli(args);
    expect(loud.err.length).toBeGreaterThan(0);
    newSystem();
    fs.rmSync(stateDir, { recursive: true });
    const quiet = await cli(['-q', ...args]);
    expect(quiet).toMatchObject({ code: 0, err: [], errors: [] });
    expect(quiet.out).toEqual(loud.out);
    const again = await cli([...args, '--quiet']);
    expect(again.code).toBe(3);
    expect(again.errors[0]).toMatch(/^snapstore: .*"up1"/);
  });
});

describe('--json', () => {
  it('a document is indented; after JSON lines (watch), the error that ends them is one line too', () => {
    const out = stream(false);
    const doc = processContext({ json: true, stdout: out.s, stderr: stream(false).s, env: {} });
    doc.result('recover', { actions: [], notes: [] });
    expect(out.text()).toBe('{\n  "schemaVersion": 1,\n  "actions": [],\n  "notes": []\n}\n');
    const lines = stream(false);
    const watch = processContext({ json: true, stdout: lines.s, stderr: stream(false).s, env: {} });
    watch.jsonLine('watch-event', { at: '2026-01-01T00:00:00.000Z', name: 'up1', event: 'watching', message: 'watching' });
    watch.result('error', { error: { code: 'SNAPSHOT_INVALID', message: '"up1" went Invalid while watched' } });
    const parsed = lines.text().trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.map((p) => Object.keys(p)[1])).toEqual(['at', 'error']);
  });
});

describe.runIf(fs.existsSync('dist/cli-bundle/main.js') || process.env['CI'])('as a process', () => {
  it('map -q: the table on stdout, the warning gone', async () => {
    const file = path.join(scratch, 'mapped');
    fs.writeFileSync(file, Buffer.alloc(1 << 20, 1));
    const loud = await execa('bin/snapstore', ['map', file]);
    expect(loud.stderr).toMatch(/^warning: /);
    const quiet = await execa('bin/snapstore', ['-q', 'map', file]);
    expect(quiet.stderr).toBe('');
    expect(quiet.stdout).toBe(loud.stdout);
  });

  /** doctor's output through a pseudo-terminal (script(1)), or a pipe. */
  const doctorOn = async (tty: boolean, env: Record<string, string> = {}) => {
    const args = ['doctor', '--state-dir', path.join(scratch, 'none')];
    const r = tty
      ? await execa('script', ['-qec', ['bin/snapstore', ...args].join(' '), '/dev/null'], { reject: false, env: { ...process.env, ...env } })
      : await execa('bin/snapstore', args, { reject: false, env: { ...process.env, ...env } });
    return r.stdout;
  };

  it('colour on a terminal; none on a pipe, and none with NO_COLOR on a terminal', async () => {
    expect(await doctorOn(true, { NO_COLOR: '', TERM: 'xterm' })).toContain(ESC);
    expect(await doctorOn(false)).not.toContain(ESC);
    const noColour = await doctorOn(true, { NO_COLOR: '1', TERM: 'xterm' });
    expect(noColour).toMatch(/^(ok|warn|fail) +root: /);
    expect(noColour).not.toContain(ESC);
  });
});
