/**
 * Every `--json` output names the version of its schema: the files in
 * docs/json-schema/ (NAME.schema.json for each name below) say what each
 * version holds, and docs/json-schema/README.md when a version changes.
 * A command prints through ctx.result(NAME, value), so none can forget it.
 */
export const JSON_SCHEMAS = {
  error: 1,
  activate: 1,
  commit: 1,
  create: 1,
  diff: 1,
  discard: 1,
  doctor: 1,
  enroll: 1,
  export: 1,
  extend: 1,
  inspect: 1,
  'install-boot': 1,
  map: 1,
  merge: 1,
  recover: 1,
  rollback: 1,
  // the library's STATUS_SCHEMA_VERSION too (a test holds them equal): not imported, so the CLI's start stays small
  status: 1,
  'store-attach': 1,
  'store-create': 1,
  'store-delete': 1,
  'store-detach': 1,
  'store-list': 1,
  'store-verify': 1,
  unenroll: 1,
  'watch-event': 1,
} as const;

export type JsonSchemaName = keyof typeof JSON_SCHEMAS;

/** `body` with the version of its schema first. */
export function versioned(schema: JsonSchemaName, body: object): object {
  return { schemaVersion: JSON_SCHEMAS[schema], ...body };
}
