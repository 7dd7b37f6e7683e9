/**
 * The intent record of a `store create` under way (`stores/NAME.creating`).
 * It is written before the file exists and removed after the manifest is,
 * so a create that was killed (or lost power) leaves a note of what to clean
 * up: `store delete NAME` reads it, and `store create NAME` refuses until then.
 */
import { SnapstoreError } from '../errors.js';
import type { Intent } from '../state/intent.js';
import { intentExists, readIntent, removeIntent, writeIntent } from '../state/intent.js';
import type { StateLock } from '../state/lock.js';
import type { StateDir } from '../state/state-dir.js';
import type { FileIdentity } from './file-identity.js';

const OP = 'creating';

export interface Creating {
  readonly file: string;
  /** known once the file is open; a file without it can only be empty */
  readonly identity?: FileIdentity;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function check(data: unknown): Creating | undefined {
  const d = data as Partial<Creating> | null;
  if (typeof d !== 'object' || d === null || typeof d.file !== 'string') return undefined;
  if (d.identity !== undefined && !(isCount(d.identity.inode) && isCount(d.identity.generation))) return undefined;
  return { file: d.file, ...(d.identity ? { identity: { inode: d.identity.inode, generation: d.identity.generation } } : {}) };
}

export function writeCreating(lock: StateLock, name: string, data: Creating, startedAt?: string): Intent<Creating> {
  return writeIntent(lock, lock.dir.ensureFolder('stores'), name, OP, data, startedAt);
}

export function removeCreating(lock: StateLock, name: string): void {
  removeIntent(lock, lock.dir.ensureFolder('stores'), name, OP);
}

export function readCreating(stateDir: StateDir, name: string): Intent<Creating> | undefined {
  const folder = stateDir.folder('stores');
  return folder === undefined ? undefined : readIntent(folder, name, OP, check);
}

export function creatingExists(stateDir: StateDir, name: string): boolean {
  const folder = stateDir.folder('stores');
  return folder !== undefined && intentExists(folder, name, OP);
}

export function unfinishedCreation(stateDir: StateDir, name: string): SnapstoreError {
  const r = readCreating(stateDir, name);
  return new SnapstoreError('CREATE_UNFINISHED', `an earlier \`store create ${name}\` did not finish${r ? ` (its file: ${r.data.file})` : ''}`, {
    hint: `run \`snapstore store delete ${name}\` to remove what it left, then create again`,
  });
}
