// The store commands' --json output against docs/json-schema/, from the
// built CLI on a real ext4 (a loop device): store create, list, verify,
// detach, delete, map and inspect --store. The other commands are in
// test/unit/cli-json-schema.test.ts.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonSchemaName } from '../../src/cli/json-output.js';
import { expectValid } from '../support/json-schema.js';
import { snapstore } from './cli.js';
import { type LoopFs, makeLoopFs } from './loopfs.js';

let data: LoopFs;
let stateDir: string;
beforeAll(async () => {
  data = await makeLoopFs('ext4', 64);
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-host-schema-'));
});
afterAll(async () => {
  await data?.cleanup();
  fs.rmSync(stateDir, { recursive: true, force: true });
});

/** One command line with --json: exit 0, one document, valid by its schema. */
async function json(schema: JsonSchemaName, args: string[]) {
  const r = await snapstore([...args, '--json']);
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  const value = JSON.parse(r.stdout) as Record<string, unknown>;
  expectValid(schema, value);
  return value;
}

describe('the store commands', () => {
  it('store create, list, verify, inspect --store, detach, delete; map', async () => {
    const file = path.join(data.storeDir, 's1');
    const state = ['--state-dir', stateDir];
    expect(await json('store-create', ['store', 'create', 's1', '--store', file, '--size', '4M', ...state])).toMatchObject({ name: 's1' });
    expect(await json('store-list', ['store', 'list', ...state])).toMatchObject({ stores: [expect.objectContaining({ name: 's1', state: 'ok' })] });
    expect(await json('store-verify', ['store', 'verify', 's1', ...state])).toMatchObject({ ok: true });
    expect(await json('inspect', ['inspect', '--store', 's1', ...state])).toMatchObject({ written: false });
    expect(await json('store-detach', ['store', 'detach', 's1', ...state])).toMatchObject({ detached: false });
    await json('map', ['map', file]);
    expect(await json('store-delete', ['store', 'delete', 's1', ...state])).toMatchObject({ fileDeleted: true });
  });
});
