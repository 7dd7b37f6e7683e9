/**
 * A record, in the state directory, of a `store create` under way. It is
 * written before the file exists and removed after the manifest is, so a
 * create that was killed (or lost power) leaves a note of what to clean up:
 * `store delete NAME` reads it, and `store create NAME` refuses until then.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SnapstoreError } from '../errors.js';
import { unlinkDurable, writeFileAtomic } from './atomic-write.js';
import type { FileIdentity } from './file-identity.js';
import { storesDir } from './state-dir.js';

export interface CreationRecord {
  readonly name: string;
  readonly file: string;
  /** known once the file is open; a file without it can only be empty */
  readonly identity?: FileIdentity;
  readonly startedAt: string;
}

export function creationRecordPath(stateDir: string, name: string): string {
  return path.join(storesDir(stateDir), `${name}.creating`);
}

export function writeCreationRecord(stateDir: string, record: CreationRecord): void {
  writeFileAtomic(creationRecordPath(stateDir, record.name), `${JSON.stringify(record)}\n`);
}

export function removeCreationRecord(stateDir: string, name: string): void {
  unlinkDurable(creationRecordPath(stateDir, name));
}

export function readCreationRecord(stateDir: string, name: string): CreationRecord | undefined {
  const file = creationRecordPath(stateDir, name);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const r = JSON.parse(text) as CreationRecord;
    if (typeof r.file !== 'string' || r.name !== name) throw new Error('fields missing');
    return r;
  } catch (err) {
    throw new SnapstoreError('RECORD_INVALID', `${file} is not a creation record snapstore wrote (${(err as Error).message})`, {
      hint: `look at it, remove what it names by hand if you are sure, then remove ${file}`,
    });
  }
}

export function unfinishedCreation(stateDir: string, name: string): SnapstoreError {
  const r = readCreationRecord(stateDir, name);
  return new SnapstoreError('CREATE_UNFINISHED', `an earlier \`store create ${name}\` did not finish${r ? ` (its file: ${r.file})` : ''}`, {
    hint: `run \`snapstore store delete ${name}\` to remove what it left, then create again`,
  });
}
