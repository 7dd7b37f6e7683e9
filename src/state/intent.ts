/**
 * Intent records: "about to do OP to NAME", written durably before the act
 * and removed after it, so a command that was killed or lost power leaves a
 * note of what to finish or undo. `store create` records `creating` this way;
 * the lifecycle records each step.
 */
import { SnapstoreError } from '../errors.js';
import { unlinkDurable, writeFileAtomic } from './files.js';
import { jsonObject } from './json-record.js';
import type { StateLock } from './lock.js';
import { statePaths } from './names.js';
import { lstatOrNone, readTrustedFile } from './trust.js';

export const INTENT_VERSION = 1;

export interface Intent<T> {
  readonly version: typeof INTENT_VERSION;
  readonly op: string;
  readonly name: string;
  readonly startedAt: string;
  readonly data: T;
}

/** Writes (or rewrites, as the step learns more) the record of `op` on `name` in `folder`. */
export function writeIntent<T>(_lock: StateLock, folder: string, name: string, op: string, data: T, startedAt = new Date().toISOString()): Intent<T> {
  const intent: Intent<T> = { version: INTENT_VERSION, op, name, startedAt, data };
  writeFileAtomic(statePaths.intent(folder, name, op), `${JSON.stringify(intent)}\n`);
  return intent;
}

export function removeIntent(_lock: StateLock, folder: string, name: string, op: string): void {
  unlinkDurable(statePaths.intent(folder, name, op));
}

export function intentExists(folder: string, name: string, op: string): boolean {
  return lstatOrNone(statePaths.intent(folder, name, op)) !== undefined;
}

/** The record of `op` on `name`, its data checked by `check`; undefined when there is none. */
export function readIntent<T>(folder: string, name: string, op: string, check: (data: unknown) => T | undefined): Intent<T> | undefined {
  const file = statePaths.intent(folder, name, op);
  const text = readTrustedFile(file);
  if (text === undefined) return undefined;
  const r = jsonObject(text, (what) => badRecord(file, what)) as Partial<Intent<unknown>>;
  if (r.version !== INTENT_VERSION) throw badRecord(file, `version ${JSON.stringify(r.version)} is not ${INTENT_VERSION}`);
  if (r.op !== op || r.name !== name) throw badRecord(file, `it records ${JSON.stringify(r.op)} on ${JSON.stringify(r.name)}, not ${op} on ${name}`);
  if (typeof r.startedAt !== 'string') throw badRecord(file, 'startedAt is missing');
  const data = check(r.data);
  if (data === undefined) throw badRecord(file, `its data ${JSON.stringify(r.data)} is not what ${op} records`);
  return { version: INTENT_VERSION, op, name, startedAt: r.startedAt, data };
}

function badRecord(file: string, why: string): SnapstoreError {
  return new SnapstoreError('RECORD_INVALID', `${file} is not a record snapstore wrote: ${why}`, {
    hint: `look at it, remove what it names by hand if you are sure, then remove ${file}`,
  });
}
