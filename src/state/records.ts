/**
 * A folder of JSON records in the state directory, one file per name
 * (`stores/NAME.json`, `snapshots/NAME.json`): found (trust checked, decoded
 * by the record's own decoder), written atomically under the lock.
 */
import { writeFileAtomic } from './files.js';
import type { StateLock } from './lock.js';
import type { StateDir } from './state-dir.js';
import { lstatOrNone, readTrustedFile } from './trust.js';

export interface RecordFolder<T> {
  readonly folder: string;
  /** The file of record `name` in a state directory. */
  path(stateDir: string, name: string): string;
  /** The record, or undefined when there is none. */
  find(stateDir: StateDir, name: string): T | undefined;
  exists(stateDir: StateDir, name: string): boolean;
  write(lock: StateLock, name: string, value: T): void;
}

/** `file` names a record's file (from statePaths, where every name we give the disk is spelled). */
export function recordFolder<T>(
  folder: string,
  file: (stateDir: string, name: string) => string,
  decode: (file: string, text: string) => T,
  encode: (value: T) => string,
): RecordFolder<T> {
  return {
    folder,
    path: file,
    find(stateDir, name) {
      if (stateDir.folder(folder) === undefined) return undefined;
      const f = file(stateDir.path, name);
      const text = readTrustedFile(f);
      return text === undefined ? undefined : decode(f, text);
    },
    exists: (stateDir, name) => lstatOrNone(file(stateDir.path, name)) !== undefined,
    write(lock, name, value) {
      lock.dir.ensureFolder(folder);
      writeFileAtomic(file(lock.dir.path, name), encode(value));
    },
  };
}
