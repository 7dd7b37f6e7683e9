// Every command's --json output against its schema in docs/json-schema/: the
// real output of real command lines (the whole CLI in this process, on the
// fake device-mapper; the offline tools on image files). The store commands
// on a real filesystem are in test/host/cli-json-schema.test.ts.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { JSON_SCHEMAS, type JsonSchemaName } from '../../src/cli/json-output.js';
import { buildProgram } from '../../src/cli/program.js';
import { ERROR_CODES } from '../../src/errors.js';
import { SNAPSHOT_STATES } from '../../src/snapshot/states.js';
import { STATUS_SCHEMA_VERSION } from '../../src/snapshot/status.js';
import { deviceNumber } from '../../src/linux/device-number.js';
import { buildStore, pattern } from '../cow/helpers.js';
import { capture } from '../support/capture.js';
import { cli, newSystem, system } from '../support/cli-fake.js';
import { ORIGIN_PATH } from '../support/fake-platform.js';
import { expectValid, isValid, SCHEMA_DIR, schemaFile, schemaId } from '../support/json-schema.js';

vi.mock('../../src/snapshot/platform.js', async (original) => (await import('../support/cli-fake.js')).fakePlatformModule(original));
vi.mock('../../src/dm/client.js', async (original) => (await import('../support/cli-fake.js')).fakeClientModule(original));

let scratch: string;
let stateDir: string;
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-schema-'));
});
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
beforeEach(() => {
  newSystem();
  stateDir = fs.mkdtempSync(path.join(scratch, 'state-'));
});

/** Runs a command line with --json: exactly one JSON document, which its schema takes; its exit code. */
async function json(schema: JsonSchemaName, argv: string[]): Promise<{ code: number; value: Record<string, unknown> }> {
  const r = await cli([...argv, '--json', '--state-dir', stateDir]);
  expect(r.results, argv.join(' ')).toHaveLength(1);
  const value = r.results[0] as Record<string, unknown>;
  expectValid(schema, value);
  expect(value['schemaVersion']).toBe(JSON_SCHEMAS[schema]);
  return { code: r.code, value };
}
const create = (name: string, ...more: string[]) => ['create', name, '--origin', ORIGIN_PATH, '--store', `/data/.snapstore/${name}.store`, '--size', '16M', ...more];

describe('the schema files', () => {
  const names = Object.keys(JSON_SCHEMAS) as JsonSchemaName[];

  it('one per output, each naming itself, JSON Schema 2020-12, its schemaVersion the version the CLI prints', () => {
    const files = fs.readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.schema.json'));
    expect(files.sort()).toEqual([...names.map((n) => `${n}.schema.json`), 'defs.schema.json'].sort());
    for (const n of names) {
      const s = JSON.parse(fs.readFileSync(schemaFile(n), 'utf8'));
      expect(s).toMatchObject({ $schema: 'https://json-schema.org/draft/2020-12/schema', $id: schemaId(n), title: expect.any(String) });
      expect(s.properties?.schemaVersion, n).toEqual({ const: JSON_SCHEMAS[n] });
      expect(s.required, n).toContain('schemaVersion');
    }
  });

  it('the shared definitions follow the code: the states are SNAPSHOT_STATES, and every error code fits the code pattern', () => {
    const defs = JSON.parse(fs.readFileSync(schemaFile('defs'), 'utf8')).$defs;
    expect(defs.state.enum).toEqual([...SNAPSHOT_STATES]);
    for (const code of Object.keys(ERROR_CODES)) expect(isValid('error', { schemaVersion: 1, error: { code, message: 'm' } }), code).toBe(true);
  });

  it("status's version is the library's STATUS_SCHEMA_VERSION", () => {
    expect(JSON_SCHEMAS.status).toBe(STATUS_SCHEMA_VERSION);
  });

  it('a schema refuses an output without its version, or with another', () => {
    const ok = { schemaVersion: 1, actions: [], notes: [] };
    expect(isValid('recover', ok)).toBe(true);
    expect(isValid('recover', { actions: [], notes: [] })).toBe(false);
    expect(isValid('recover', { ...ok, schemaVersion: 2 })).toBe(false);
  });

  it('every command that takes --json has a schema for its output', () => {
    const withJson: string[] = [];
    const walk = (cmd: ReturnType<typeof buildProgram>, prefix: string[]) => {
      for (const c of cmd.commands) {
        const words = [...prefix, c.name()];
        if (c.options.some((o) => o.long === '--json')) withJson.push(words.join('-'));
        walk(c, words);
      }
    };
    walk(buildProgram(capture().ctx), []);
    // `list` prints what `status` does
    const outputs = withJson.map((w) => (w === 'list' ? 'status' : w === 'watch' ? 'watch-event' : w));
    for (const o of outputs) expect(names, o).toContain(o);
  });
});

describe('the lifecycle', () => {
  it("create with a warning: an update agent's record on the origin", async () => {
    const data = fs.mkdtempSync(path.join(scratch, 'data-'));
    system.platform.originPaths = [data];
    system.platform.agents = { states: [{ agent: 'Mender', path: `${data}/mender` }], offFilesystem: [] };
    const r = await json('create', create('w1'));
    expect(r.value['warnings']).toEqual([{ message: expect.stringContaining(`Mender's state (${data}/mender)`), hint: expect.any(String) }]);
  });

  it('create --dry-run, create, status, list, commit', async () => {
    expect((await json('create', create('up1', '--dry-run'))).value).toMatchObject({ dryRun: true });
    expect((await json('create', create('up1', '--boot-attempts', '2'))).code).toBe(0);
    const s = await json('status', ['status']);
    expect(s.value['snapshots']).toHaveLength(1);
    await json('status', ['status', 'up1']);
    await json('status', ['list']);
    expect((await json('commit', ['commit', 'up1'])).value).toMatchObject({ outcome: 'committed' });
  });

  it('extend, rollback, recover', async () => {
    await cli([...create('up1'), '--state-dir', stateDir]);
    expect((await json('extend', ['extend', 'up1', '--by', '4M'])).code).toBe(0);
    expect((await json('rollback', ['rollback', 'up1'])).code).toBe(0);
    expect((await json('recover', ['recover'])).code).toBe(0);
  });

  it('discard', async () => {
    await cli([...create('up1'), '--state-dir', stateDir]);
    expect((await json('discard', ['discard', 'up1'])).value).toMatchObject({ outcome: 'discarded' });
  });

  it('activate after a reboot, and with a rollback lost (exit 7, still one document)', async () => {
    await cli([...create('up1'), '--state-dir', stateDir]);
    system.platform.reboot();
    expect((await json('activate', ['activate'])).code).toBe(0);
    system.platform.reboot();
    system.platform.invalidate('up1');
    expect((await json('activate', ['activate'])).code).toBe(7);
  });

  it('enroll, unenroll', async () => {
    system.platform.addPlain('vdc', deviceNumber(253, 7), 1 << 20, '7a11-03');
    // the boot's tables in the scratch folder (there is no fstab there: enroll says what to write)
    const tables = ['--fstab', path.join(scratch, 'fstab'), '--crypttab', path.join(scratch, 'crypttab')];
    expect((await json('enroll', ['enroll', '/dev/vdc', '--name', 'home', ...tables])).code).toBe(0);
    expect((await json('unenroll', ['unenroll', 'home', ...tables])).code).toBe(0);
    expect((await json('enroll', ['enroll', '/dev/vdc', '--name', 'home', '--print-only'])).code).toBe(0);
  });

  it('watch: each line a watch event', async () => {
    await cli([...create('up1'), '--state-dir', stateDir]);
    // Stopped as systemd stops it, once it has said something.
    const stop = new AbortController();
    const r = cli(['watch', '--json', '--interval', '10', '--state-dir', stateDir], { signal: stop.signal });
    await new Promise((done) => setTimeout(done, 300));
    stop.abort('SIGTERM');
    const lines = (await r).results;
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expectValid('watch-event', l);
  });

  it('install-boot --dry-run into an image', async () => {
    const root = fs.mkdtempSync(path.join(scratch, 'image-'));
    fs.mkdirSync(path.join(root, 'etc/initramfs-tools'), { recursive: true });
    const r = await cli(['install-boot', '--initramfs-tools', '--dry-run', '--root', root, '--json']);
    expect(r.results).toHaveLength(1);
    expectValid(r.code === 0 ? 'install-boot' : 'error', r.results[0]);
  });
});

// doctor asks the real kernel (its device-mapper check reads what the fake does not keep): as a process.
describe.runIf(fs.existsSync('dist/cli-bundle/main.js') || process.env['CI'])('doctor, as a process', () => {
  it('with a path, and without', async () => {
    for (const args of [['doctor', scratch], ['doctor']]) {
      const r = await execa('bin/snapstore', [...args, '--json', '--state-dir', path.join(scratch, 'none')], { reject: false });
      expectValid('doctor', JSON.parse(r.stdout));
    }
  });
});

describe('the offline tools, on images', () => {
  const images = () => {
    const origin = path.join(scratch, `origin-${process.hrtime.bigint()}`);
    const cow = path.join(scratch, `cow-${process.hrtime.bigint()}`);
    fs.writeFileSync(origin, pattern(512 * 4096, 9));
    fs.writeFileSync(cow, buildStore([4, 5, 6, 40, 300]).store.data);
    return { origin, cow };
  };

  it('inspect, export, merge --dry-run, merge', async () => {
    const { origin, cow } = images();
    expect((await json('inspect', ['inspect', cow, '--exceptions'])).code).toBe(0);
    expect((await json('export', ['export', path.join(scratch, `view-${process.hrtime.bigint()}`), '--origin', origin, '--cow', cow])).code).toBe(0);
    expect((await json('merge', ['merge', '--offline', '--origin', origin, '--cow', cow, '--dry-run'])).code).toBe(0);
    expect((await json('merge', ['merge', '--offline', '--origin', origin, '--cow', cow, '--verify'])).code).toBe(0);
  });

});

describe('errors', () => {
  it.each([
    ['a usage error from commander', ['store', 'list', '--bogus']],
    ['a usage error of ours', ['create', 'x', '--origin', ORIGIN_PATH, '--store', '/data/x', '--size', '5MB']],
    ['an error from the library', ['commit', 'nope']],
  ])('%s: {schemaVersion, error: {code, message, hint}}', async (_what, argv) => {
    const r = await json('error', argv);
    expect(r.code).not.toBe(0);
  });
});
