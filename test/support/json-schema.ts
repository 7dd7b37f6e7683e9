/**
 * The schemas of docs/json-schema/, compiled once by ajv (JSON Schema
 * 2020-12, strict: a schema that says something ajv does not understand
 * fails to compile rather than passing everything; `required` in an
 * `if`/`oneOf` branch names properties its schema defines at the top).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { expect } from 'vitest';
import type { JsonSchemaName } from '../../src/cli/json-output.js';

export const SCHEMA_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/json-schema');
export const schemaFile = (name: string) => path.join(SCHEMA_DIR, `${name}.schema.json`);

const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
for (const f of fs.readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.schema.json'))) ajv.addSchema(JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, f), 'utf8')));

/** The $id of a command's schema (every file names itself so). */
export const schemaId = (name: string) => `https://snapstore.invalid/json-schema/${name}.schema.json`;

/** Fails the test with ajv's own words when `value` is not what schema `name` says. */
export function expectValid(name: JsonSchemaName, value: unknown): void {
  const validate = ajv.getSchema(schemaId(name));
  if (!validate) throw new Error(`no schema ${schemaFile(name)}`);
  const ok = validate(value);
  expect(ok, `${name}: ${ajv.errorsText(validate.errors, { separator: '\n' })}\n${JSON.stringify(value, null, 2)}`).toBe(true);
}

/** Whether `value` passes schema `name` (for tests that a schema rejects what it must). */
export function isValid(name: JsonSchemaName, value: unknown): boolean {
  return Boolean(ajv.getSchema(schemaId(name))?.(value));
}
