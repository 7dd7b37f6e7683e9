/**
 * The manifest of one store: versioned JSON in the state directory, written
 * atomically. Everything read back is validated; a manifest that does not
 * check out is refused, never guessed at.
 */
import { createHash } from 'node:crypto';
import { SnapstoreError } from '../errors.js';
import type { StoreSegment } from '../fiemap/align.js';
import { writeFileAtomic } from '../state/files.js';
import type { StateLock } from '../state/lock.js';
import { statePaths } from '../state/names.js';
import type { StateDir } from '../state/state-dir.js';
import { lstatOrNone, readTrustedFile } from '../state/trust.js';
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

function field<T>(file: string, obj: Record<string, unknown>, key: string, check: (v: unknown) => v is T, what: string): T {
  const v = obj[key];
  if (!check(v)) throw new ManifestError(file, `field "${key}" is ${JSON.stringify(v)}, expected ${what}`);
  return v;
}

const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isOptionalString = (v: unknown): v is string | undefined => v === undefined || isString(v);
const IDENTITY_FIELDS = ['fsUuid', 'fsType', 'partUuid', 'dmName', 'dmUuid'] as const;

function decodeIdentity(file: string, obj: Record<string, unknown>): DeviceIdentity {
  for (const k of IDENTITY_FIELDS) field(file, obj, k, isOptionalString, 'a string or nothing');
  const id = obj as unknown as DeviceIdentity;
  field(file, obj, 'devNumber', isString, 'major:minor');
  field(file, obj, 'kernelName', isString, 'a kernel device name');
  if (!id.fsUuid && !id.partUuid && !id.dmUuid && !id.dmName) throw new ManifestError(file, 'the device has no stable identity (fsUuid, partUuid, dmName or dmUuid)');
  return id;
}

export function decodeManifest(file: string, text: string): StoreManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(file, `not JSON (${(err as Error).message})`);
  }
  if (!isObject(raw)) throw new ManifestError(file, 'not a JSON object');
  const version = field(file, raw, 'version', isCount, 'a number');
  if (version !== MANIFEST_VERSION) throw new ManifestError(file, `version ${version} is not ${MANIFEST_VERSION}`);
  const kind = field(file, raw, 'kind', isString, 'a string');
  if (kind !== 'file') throw new ManifestError(file, `kind "${kind}" is not "file"`);
  let chunk;
  try {
    chunk = chunkSize(bytes(field(file, raw, 'chunkSize', isCount, 'a byte count')));
  } catch (err) {
    if (err instanceof UnitError) throw new ManifestError(file, `field "chunkSize": ${err.message}`);
    throw err;
  }
  const fsObj = field(file, raw, 'filesystem', isObject, 'an object');
  const devObj = field(file, raw, 'device', isObject, 'an object');
  const segRaw = field(file, raw, 'segments', (v): v is unknown[] => Array.isArray(v), 'an array');
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
    name: field(file, raw, 'name', isString, 'a string'),
    file: field(file, raw, 'file', isString, 'a path'),
    inode: field(file, raw, 'inode', isCount, 'an inode number'),
    generation: field(file, raw, 'generation', isCount, 'an inode generation'),
    fileSize: bytes(field(file, raw, 'fileSize', isCount, 'a byte count')),
    usableBytes: bytes(field(file, raw, 'usableBytes', isCount, 'a byte count')),
    droppedBytes: bytes(field(file, raw, 'droppedBytes', isCount, 'a byte count')),
    chunkSize: chunk.bytes,
    filesystem: {
      type: field(file, fsObj, 'type', isString, 'a filesystem type'),
      blockSize: bytes(field(file, fsObj, 'blockSize', isCount, 'a byte count')),
    },
    device: decodeIdentity(file, devObj),
    segments,
    mapSha256: field(file, raw, 'mapSha256', isString, 'a sha256'),
    createdAt: field(file, raw, 'createdAt', isString, 'a date'),
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

/** The manifest of store `name`, or undefined when there is none. Trust is checked first. */
export function findManifest(stateDir: StateDir, name: string): StoreManifest | undefined {
  if (stateDir.folder('stores') === undefined) return undefined;
  const file = statePaths.storeManifest(stateDir.path, name);
  const text = readTrustedFile(file);
  return text === undefined ? undefined : decodeManifest(file, text);
}

export function writeManifest(lock: StateLock, m: StoreManifest): void {
  lock.dir.ensureFolder('stores');
  writeFileAtomic(statePaths.storeManifest(lock.dir.path, m.name), encode(m));
}

export function manifestExists(stateDir: StateDir, name: string): boolean {
  return lstatOrNone(statePaths.storeManifest(stateDir.path, name)) !== undefined;
}
