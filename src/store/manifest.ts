/**
 * The manifest of one store: versioned JSON in the state directory, written
 * atomically. Everything read back is validated; a manifest that does not
 * check out is refused, never guessed at.
 */
import { createHash } from 'node:crypto';
import { SnapstoreError } from '../errors.js';
import type { StoreSegment } from '../fiemap/align.js';
import { recordFolder } from '../state/records.js';
import { field, isCount, isObject, isOptionalString, isString, jsonObject } from '../state/json-record.js';
import type { StateLock } from '../state/lock.js';
import { statePaths } from '../state/names.js';
import type { StateDir } from '../state/state-dir.js';
import type { Bytes } from '../units/units.js';
import { bytes, chunkSize, UnitError } from '../units/units.js';
import type { DeviceIdentity } from './identity.js';

export const MANIFEST_VERSION = 1;

export interface StoreManifest {
  readonly version: typeof MANIFEST_VERSION;
  /** 'file': a preallocated file mapped by FIEMAP (other kinds may follow) */
  readonly kind: 'file';
  readonly name: string;
  readonly file: string;
  readonly inode: number;
  readonly generation: number;
  readonly fileSize: Bytes;
  readonly usableBytes: Bytes;
  readonly droppedBytes: Bytes;
  readonly chunkSize: Bytes;
  readonly filesystem: { readonly type: string; readonly blockSize: Bytes };
  readonly device: DeviceIdentity;
  readonly segments: readonly StoreSegment[];
  /** sha256 over the segments' canonical text: catches a damaged map */
  readonly mapSha256: string;
  /** how many segments the proof wrote into and read back (all of them, or a sample spread over the device) */
  readonly provedSegments?: number;
  /** how many times the map grew (`extend`): each growth writes a new generation (absent: never) */
  readonly mapGeneration?: number;
  readonly createdAt: string;
}

/** The canonical text the checksum covers: one `store file physical length` line a segment. */
export function mapChecksum(segments: readonly StoreSegment[]): string {
  const h = createHash('sha256');
  for (const s of segments) h.update(`${s.storeOffset} ${s.fileOffset} ${s.physical} ${s.length}\n`);
  return h.digest('hex');
}

/** On disk, segments are `[storeOffset, fileOffset, physical, length]` in bytes. */
function encode(m: StoreManifest): string {
  const { segments, ...rest } = m;
  return `${JSON.stringify(
    { ...rest, segments: segments.map((s) => [s.storeOffset, s.fileOffset, s.physical, s.length]) },
    null,
    1,
  )}\n`;
}

class ManifestError extends SnapstoreError {
  constructor(file: string, what: string) {
    super('MANIFEST_INVALID', `manifest ${file}: ${what}`, {
      hint: 'the manifest is damaged or from another version; nothing was changed. Inspect it, or remove the store by hand (chattr -i, rm) if you are sure',
    });
  }
}

const IDENTITY_FIELDS = ['fsUuid', 'fsType', 'partUuid', 'dmName', 'dmUuid'] as const;

function decodeIdentity(file: string, obj: Record<string, unknown>): DeviceIdentity {
  const fail = (what: string) => new ManifestError(file, what);
  for (const k of IDENTITY_FIELDS) field(obj, k, isOptionalString, 'a string or nothing', fail);
  const id = obj as unknown as DeviceIdentity;
  field(obj, 'devNumber', isString, 'major:minor', fail);
  field(obj, 'kernelName', isString, 'a kernel device name', fail);
  if (!id.fsUuid && !id.partUuid && !id.dmUuid && !id.dmName) throw new ManifestError(file, 'the device has no stable identity (fsUuid, partUuid, dmName or dmUuid)');
  return id;
}

export function decodeManifest(file: string, text: string): StoreManifest {
  const fail = (what: string) => new ManifestError(file, what);
  const raw = jsonObject(text, fail);
  const version = field(raw, 'version', isCount, 'a number', fail);
  if (version !== MANIFEST_VERSION) throw new ManifestError(file, `version ${version} is not ${MANIFEST_VERSION}`);
  const kind = field(raw, 'kind', isString, 'a string', fail);
  if (kind !== 'file') throw new ManifestError(file, `kind "${kind}" is not "file"`);
  let chunk;
  try {
    chunk = chunkSize(bytes(field(raw, 'chunkSize', isCount, 'a byte count', fail)));
  } catch (err) {
    if (err instanceof UnitError) throw new ManifestError(file, `field "chunkSize": ${err.message}`);
    throw err;
  }
  const fsObj = field(raw, 'filesystem', isObject, 'an object', fail);
  const devObj = field(raw, 'device', isObject, 'an object', fail);
  const segRaw = field(raw, 'segments', (v): v is unknown[] => Array.isArray(v), 'an array', fail);
  const segments: StoreSegment[] = [];
  let next = 0;
  for (let i = 0; i < segRaw.length; i++) {
    const s = segRaw[i];
    if (!Array.isArray(s) || s.length !== 4 || !s.every(isCount)) {
      throw new ManifestError(file, `segment ${i} is ${JSON.stringify(s)}, expected [storeOffset, fileOffset, physical, length]`);
    }
    const [storeOffset, fileOffset, physical, length] = s as [number, number, number, number];
    if (storeOffset !== next) throw new ManifestError(file, `segment ${i} starts at store byte ${storeOffset}, expected ${next}`);
    if (length === 0 || length % chunk.bytes !== 0 || physical % chunk.bytes !== 0) {
      throw new ManifestError(file, `segment ${i} is not aligned to the ${chunk.bytes}-byte chunk size`);
    }
    next = storeOffset + length;
    segments.push({ storeOffset: bytes(storeOffset), fileOffset: bytes(fileOffset), physical: bytes(physical), length: bytes(length) });
  }
  const m: StoreManifest = {
    version: MANIFEST_VERSION,
    kind: 'file',
    name: field(raw, 'name', isString, 'a string', fail),
    file: field(raw, 'file', isString, 'a path', fail),
    inode: field(raw, 'inode', isCount, 'an inode number', fail),
    generation: field(raw, 'generation', isCount, 'an inode generation', fail),
    fileSize: bytes(field(raw, 'fileSize', isCount, 'a byte count', fail)),
    usableBytes: bytes(field(raw, 'usableBytes', isCount, 'a byte count', fail)),
    droppedBytes: bytes(field(raw, 'droppedBytes', isCount, 'a byte count', fail)),
    chunkSize: chunk.bytes,
    filesystem: {
      type: field(fsObj, 'type', isString, 'a filesystem type', fail),
      blockSize: bytes(field(fsObj, 'blockSize', isCount, 'a byte count', fail)),
    },
    device: decodeIdentity(file, devObj),
    segments,
    mapSha256: field(raw, 'mapSha256', isString, 'a sha256', fail),
    ...(raw['provedSegments'] !== undefined ? { provedSegments: field(raw, 'provedSegments', isCount, 'a segment count', fail) } : {}),
    ...(raw['mapGeneration'] !== undefined ? { mapGeneration: field(raw, 'mapGeneration', isCount, 'a generation count', fail) } : {}),
    createdAt: field(raw, 'createdAt', isString, 'a date', fail),
  };
  if (m.fileSize < m.usableBytes + m.droppedBytes) throw new ManifestError(file, `fileSize ${m.fileSize} is less than usableBytes + droppedBytes (${m.usableBytes + m.droppedBytes})`);
  if (next !== m.usableBytes) throw new ManifestError(file, `segments cover ${next} bytes, usableBytes says ${m.usableBytes}`);
  if (mapChecksum(segments) !== m.mapSha256) throw new ManifestError(file, 'the map does not match its checksum');
  return m;
}

/** The manifest of store `name`; a missing one is NO_SUCH_STORE. */
export function readManifest(stateDir: StateDir, name: string): StoreManifest {
  const m = findManifest(stateDir, name);
  if (m) return m;
  throw new SnapstoreError('NO_SUCH_STORE', `no store named "${name}" in ${stateDir.path} (no ${statePaths.storeManifest(stateDir.path, name)})`, {
    hint: 'check the name and --state-dir; `snapstore store list` lists the stores',
  });
}

/** Store manifests: `STATE_DIR/stores/NAME.json`. */
const STORES = recordFolder('stores', statePaths.storeManifest, decodeManifest, encode);

/** The manifest of store `name`, or undefined when there is none. Trust is checked first. */
export function findManifest(stateDir: StateDir, name: string): StoreManifest | undefined {
  return STORES.find(stateDir, name);
}

export function writeManifest(lock: StateLock, m: StoreManifest): void {
  STORES.write(lock, m.name, m);
}

export function manifestExists(stateDir: StateDir, name: string): boolean {
  return STORES.exists(stateDir, name);
}
