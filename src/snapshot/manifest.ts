/**
 * The record of one snapshot (`STATE_DIR/snapshots/NAME.json`): versioned
 * JSON, written atomically under the lock, checked field by field when read.
 * Its `state` is the persisted state machine (states.ts): every step writes
 * the state it is entering before it acts, so after a crash the code asks
 * "where was I?" and never guesses. A finished snapshot leaves a tombstone
 * (committed, rolled-back, discarded), so that an updater that runs `commit`
 * again after a power cut hears "already committed", not "no such snapshot".
 */
import { SnapstoreError } from '../errors.js';
import { statePaths } from '../state/names.js';
import { recordFolder } from '../state/records.js';
import { field, isBool, isCount, isObject, isString, jsonObject, optionalField, type Fail } from '../state/json-record.js';
import type { StateLock } from '../state/lock.js';
import type { StateDir } from '../state/state-dir.js';
import type { Bytes } from '../units/units.js';
import { bytes, chunkSize } from '../units/units.js';
import { SNAPSHOT_STATES, type SnapshotState } from './states.js';

export const SNAPSHOT_MANIFEST_VERSION = 1;

export type SnapshotMode = 'checkpoint' | 'update';

/**
 * The origin, named by what survives a reboot: a dm device by its dm name and
 * uuid (always, in checkpoint mode); a plain block device (update mode) by its
 * partition UUID when it has one, else its kernel name, and its size.
 */
export interface OriginRecord {
  readonly dmName?: string;
  /** its dm uuid, '' when it has none (or is no dm device) */
  readonly dmUuid: string;
  /** a plain device: its GPT/MBR partition UUID */
  readonly partUuid?: string;
  /** a plain device: its kernel name when recorded (vdb, sda3) */
  readonly kernelName?: string;
  /** the filesystem's UUID on it when recorded (for messages) */
  readonly fsUuid?: string;
  /** its size in 512-byte sectors */
  readonly sectors: number;
}

/**
 * A health-gated commit's budget (`create --boot-attempts`): how many boots
 * may try the update before `activate` rolls it back on its own. Each boot is
 * counted once, by the first activate in it, before anything else activate
 * does for the snapshot (boot-attempts.ts).
 */
export interface BootAttempts {
  /** boots allowed to try the update; the next one, if none committed, rolls it back */
  readonly budget: number;
  /** boots counted so far (0 at create) */
  readonly used: number;
  /** the kernel's id of the boot counted last (at create: the boot it was made in, which is no attempt) */
  readonly lastBoot: string;
  /** the budget was spent without a commit: activate started the rollback, and commit refuses */
  readonly spent?: boolean;
}

export interface HistoryEntry {
  readonly at: string;
  readonly state: SnapshotState;
  readonly note: string;
}

export interface SnapshotManifest {
  readonly version: typeof SNAPSHOT_MANIFEST_VERSION;
  readonly name: string;
  readonly mode: SnapshotMode;
  readonly state: SnapshotState;
  readonly origin: OriginRecord;
  /** the store's name (its manifest is stores/NAME.json) */
  readonly store: string;
  readonly chunkSize: Bytes;
  /**
   * The snapshot sits beneath a crypt layer (a LUKS partition enrolled and
   * opened from its passthrough, the origin): the store's filesystem is that
   * crypt device, and its extents lie `offset` sectors further on the origin.
   */
  readonly beneath?: { readonly crypt: string; readonly offset: number };
  /** which merge owns the store once merging: the kernel's snapshot-merge, or ours */
  readonly mergeOwner?: 'kernel' | 'offline';
  /** the merge is complete (written before the stack is taken down): only the clean-up is left */
  readonly mergeDone?: boolean;
  /** keep the store file when finished (rollback/discard --keep-store) */
  readonly keepStore?: boolean;
  /** the store file still has to be deleted (its filesystem was not mounted when the snapshot finished) */
  readonly storePending?: boolean;
  /** the rollback is lost: the kernel invalidated the snapshot (store full, I/O error) */
  readonly invalid?: boolean;
  /** the boot budget of a health-gated commit, when one was given at create */
  readonly bootAttempts?: BootAttempts;
  /** the device the watcher's `--on-full abort` left suspended (its writes stopped before the store filled): recover leaves it so */
  readonly writesStopped?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly history: readonly HistoryEntry[];
}

/** The origin as messages name it: its dm name, else its kernel name. */
export function originLabel(m: SnapshotManifest): string {
  return m.origin.dmName ?? `/dev/${m.origin.kernelName}`;
}

class SnapshotManifestError extends SnapstoreError {
  constructor(file: string, what: string) {
    super('MANIFEST_INVALID', `snapshot manifest ${file}: ${what}`, {
      hint: 'the manifest is damaged or from another version; nothing was changed. `snapstore recover` lists our devices; look at the file before removing anything',
    });
  }
}

/** The manifest's true-or-false fields, each absent when false. */
const FLAGS = ['mergeDone', 'keepStore', 'storePending', 'invalid'] as const;

export function decodeSnapshotManifest(file: string, text: string): SnapshotManifest {
  const fail = (what: string) => new SnapshotManifestError(file, what);
  const raw = jsonObject(text, fail);
  const version = field(raw, 'version', isCount, 'a number', fail);
  if (version !== SNAPSHOT_MANIFEST_VERSION) throw new SnapshotManifestError(file, `version ${version} is not ${SNAPSHOT_MANIFEST_VERSION}`);
  const mode = field(raw, 'mode', isString, 'a mode', fail);
  if (mode !== 'checkpoint' && mode !== 'update') throw new SnapshotManifestError(file, `mode "${mode}" is not checkpoint or update`);
  const state = field(raw, 'state', isString, 'a state', fail);
  if (!(SNAPSHOT_STATES as readonly string[]).includes(state)) throw new SnapshotManifestError(file, `state "${state}" is not one of ${SNAPSHOT_STATES.join(', ')}`);
  const o = field(raw, 'origin', isObject, 'an object', fail);
  const origin: OriginRecord = {
    ...Object.fromEntries((['dmName', 'partUuid', 'kernelName'] as const).flatMap((k) => {
      const v = optionalField(o, k, isString, 'a name', fail);
      return v === undefined ? [] : [[k, v]];
    })),
    dmUuid: field(o, 'dmUuid', (v): v is string => typeof v === 'string', 'a dm uuid or ""', fail),
    ...(o['fsUuid'] !== undefined ? { fsUuid: field(o, 'fsUuid', isString, 'a filesystem UUID', fail) } : {}),
    sectors: field(o, 'sectors', isCount, 'a sector count', fail),
  };
  if (origin.dmName === undefined && (mode === 'checkpoint' || origin.kernelName === undefined)) {
    throw new SnapshotManifestError(file, mode === 'checkpoint' ? 'the origin has no dm name' : 'the origin has neither a dm name nor a kernel name');
  }
  let chunk: Bytes;
  try {
    chunk = chunkSize(bytes(field(raw, 'chunkSize', isCount, 'a byte count', fail))).bytes;
  } catch (err) {
    throw new SnapshotManifestError(file, `field "chunkSize": ${(err as Error).message}`);
  }
  const b = optionalField(raw, 'beneath', isObject, 'an object', fail);
  const beneath = b === undefined ? undefined : { crypt: field(b, 'crypt', isString, 'a dm name', fail), offset: field(b, 'offset', isCount, 'a sector count', fail) };
  const owner = raw['mergeOwner'];
  if (owner !== undefined && owner !== 'kernel' && owner !== 'offline') throw new SnapshotManifestError(file, `mergeOwner "${String(owner)}" is not kernel or offline`);
  const a = optionalField(raw, 'bootAttempts', isObject, 'an object', fail);
  const bootAttempts = a === undefined ? undefined : decodeBootAttempts(a, fail);
  const history = field(raw, 'history', (v): v is unknown[] => Array.isArray(v), 'an array', fail).map((h, i) => {
    if (!isObject(h) || !isString(h['at']) || !isString(h['state']) || typeof h['note'] !== 'string') {
      throw new SnapshotManifestError(file, `history entry ${i} is not {at, state, note}`);
    }
    return { at: h['at'], state: h['state'] as SnapshotState, note: h['note'] };
  });
  return {
    version: SNAPSHOT_MANIFEST_VERSION,
    name: field(raw, 'name', isString, 'a name', fail),
    mode,
    state: state as SnapshotState,
    origin,
    store: field(raw, 'store', isString, 'a store name', fail),
    chunkSize: chunk,
    ...(beneath !== undefined ? { beneath } : {}),
    ...(owner !== undefined ? { mergeOwner: owner } : {}),
    ...(bootAttempts !== undefined ? { bootAttempts } : {}),
    ...(raw['writesStopped'] !== undefined ? { writesStopped: field(raw, 'writesStopped', isString, 'a dm name', fail) } : {}),
    ...Object.fromEntries(FLAGS.flatMap((k) => {
      const v = optionalField(raw, k, isBool, 'true or false', fail);
      return v === undefined ? [] : [[k, v]];
    })),
    createdAt: field(raw, 'createdAt', isString, 'a date', fail),
    updatedAt: field(raw, 'updatedAt', isString, 'a date', fail),
    history,
  };
}

function decodeBootAttempts(a: Record<string, unknown>, fail: Fail): BootAttempts {
  const budget = field(a, 'budget', isCount, 'a number of boots', fail);
  const used = field(a, 'used', isCount, 'a number of boots', fail);
  if (budget < 1 || used > budget) throw fail(`bootAttempts: ${used} of ${budget} boots used is not a count within a budget of at least 1`);
  const spent = optionalField(a, 'spent', isBool, 'true or false', fail);
  return { budget, used, lastBoot: field(a, 'lastBoot', isString, 'a boot id', fail), ...(spent ? { spent } : {}) };
}

/** Snapshot manifests: `STATE_DIR/snapshots/NAME.json`. */
const SNAPSHOTS = recordFolder('snapshots', statePaths.snapshotManifest, decodeSnapshotManifest, (m: SnapshotManifest) => `${JSON.stringify(m, null, 1)}\n`);

/** The manifest of snapshot `name`, or undefined when there is none. */
export function findSnapshot(stateDir: StateDir, name: string): SnapshotManifest | undefined {
  return SNAPSHOTS.find(stateDir, name);
}

export function readSnapshot(stateDir: StateDir, name: string): SnapshotManifest {
  const m = findSnapshot(stateDir, name);
  if (m) return m;
  throw new SnapstoreError('NO_SUCH_SNAPSHOT', `no snapshot named "${name}" in ${stateDir.path}`, {
    hint: 'check the name and --state-dir; `snapstore list` lists the snapshots',
  });
}

export function snapshotExists(stateDir: StateDir, name: string): boolean {
  return SNAPSHOTS.exists(stateDir, name);
}

/** Writes the manifest (a new one, or the next state of one): durable before the act it describes. */
export function writeSnapshot(lock: StateLock, m: SnapshotManifest): void {
  SNAPSHOTS.write(lock, m.name, m);
}

/** Names of the snapshots recorded in a state directory. */
export function snapshotNames(stateDir: StateDir, list: (dir: string) => string[]): string[] {
  const folder = stateDir.folder('snapshots');
  if (folder === undefined) return [];
  return list(folder)
    .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}
