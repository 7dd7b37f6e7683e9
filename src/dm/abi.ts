/**
 * The device-mapper ioctl ABI, described once: `include/uapi/linux/dm-ioctl.h`
 * for layouts, flags and commands; `drivers/md/dm-ioctl.c` for how the kernel
 * fills the data area (list_devices, retrieve_status, retrieve_deps,
 * list_version_get_info) and checks what we send (populate_table,
 * next_target). Every structure has one offset table; every field read is
 * validated and errors name the structure, the field and the byte offset.
 * Nothing here performs I/O.
 */
import { SnapstoreError } from '../errors.js';
import { IOWR } from '../linux/ioctl.js';
import type { Sectors } from '../units/units.js';
import type { DeviceNumber } from '../linux/device-number.js';
import { decodeHugeDev, encodeHugeDev } from './device-number.js';

/** A dm structure that does not validate, naming the structure, the field and its byte offset. */
export class DmAbiError extends SnapstoreError {
  override name = 'DmAbiError';
  constructor(struct: string, field: string, offset: number, reason: string) {
    super('DM_ABI', `${struct}.${field} at byte ${offset}: ${reason}`, {
      hint: 'the kernel answered in a shape this snapstore does not know (or a caller broke the ABI); report it with `uname -r`',
    });
  }
}

/** struct dm_ioctl: 312 bytes, followed by the data area. */
export const DM_IOCTL_SIZE = 312;
const IOC = {
  version: 0, // __u32[3]
  dataSize: 12,
  dataStart: 16,
  targetCount: 20,
  openCount: 24, // __s32
  flags: 28,
  eventNr: 32,
  padding: 36,
  dev: 40, // __u64
  name: 48, // char[DM_NAME_LEN]
  uuid: 176, // char[DM_UUID_LEN]
  data: 305, // char[7], padding to 312
} as const;
export const DM_NAME_LEN = 128;
export const DM_UUID_LEN = 129;
export const DM_MAX_TYPE_NAME = 16;

/**
 * The interface version we send. The kernel refuses a major other than 4
 * and a minor above its own; every feature we use is detected from what the
 * kernel returns, so we ask for the oldest 4.x.
 */
export const DM_REQUEST_VERSION = [4, 0, 0] as const;

const DM_IOCTL_TYPE = 0xfd;
const cmd = (nr: number): number => IOWR(DM_IOCTL_TYPE, nr, DM_IOCTL_SIZE);
/** Command numbers: the enum in dm-ioctl.h (order matters: it is the ABI). */
export const DmCommand = {
  VERSION: cmd(0),
  REMOVE_ALL: cmd(1),
  LIST_DEVICES: cmd(2),
  DEV_CREATE: cmd(3),
  DEV_REMOVE: cmd(4),
  DEV_RENAME: cmd(5),
  DEV_SUSPEND: cmd(6),
  DEV_STATUS: cmd(7),
  DEV_WAIT: cmd(8),
  TABLE_LOAD: cmd(9),
  TABLE_CLEAR: cmd(10),
  TABLE_DEPS: cmd(11),
  TABLE_STATUS: cmd(12),
  LIST_VERSIONS: cmd(13),
  TARGET_MSG: cmd(14),
  DEV_SET_GEOMETRY: cmd(15),
} as const;

/** dm_ioctl.flags bits. */
export const DmFlag = {
  READONLY: 1 << 0,
  SUSPEND: 1 << 1,
  PERSISTENT_DEV: 1 << 3,
  STATUS_TABLE: 1 << 4,
  ACTIVE_PRESENT: 1 << 5,
  INACTIVE_PRESENT: 1 << 6,
  BUFFER_FULL: 1 << 8,
  SKIP_LOCKFS: 1 << 10,
  NOFLUSH: 1 << 11,
  QUERY_INACTIVE_TABLE: 1 << 12,
  UEVENT_GENERATED: 1 << 13,
  /** On LIST_DEVICES: append each device's uuid (kernel 5.14+, ioctl 4.45). */
  UUID: 1 << 14,
  SECURE_DATA: 1 << 15,
  DATA_OUT: 1 << 16,
  DEFERRED_REMOVE: 1 << 17,
  INTERNAL_SUSPEND: 1 << 18,
} as const;

/** dm_name_list flags word (after event_nr), dm-ioctl.h. */
const DM_NAME_LIST_FLAG_HAS_UUID = 1;
const DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID = 2;

export interface DmIoctlHeader {
  readonly version: readonly [number, number, number];
  /** Total size including the header: what the kernel may read or write. */
  readonly dataSize: number;
  readonly dataStart: number;
  readonly targetCount: number;
  readonly openCount: number;
  readonly flags: number;
  readonly eventNr: number;
  /** null where the kernel reports 0 (no device). */
  readonly dev: DeviceNumber | null;
  readonly name: string;
  readonly uuid: string;
}

export const align8 = (n: number): number => (n + 7) & ~7;

/** Reads a NUL-terminated string that must end before `start + max`. */
function cString(buf: Buffer, start: number, max: number, struct: string, field: string): string {
  const end = buf.indexOf(0, start);
  if (end < 0 || end >= start + max) {
    throw new DmAbiError(struct, field, start, `no NUL terminator within ${max} bytes`);
  }
  return buf.toString('latin1', start, end);
}

function writeCString(buf: Buffer, offset: number, max: number, text: string, field: string): void {
  // Names and uuids are ASCII in practice; the kernel stores bytes.
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length >= max) throw new DmAbiError('dm_ioctl', field, offset, `"${text}" is longer than ${max - 1} bytes`);
  if (bytes.includes(0)) throw new DmAbiError('dm_ioctl', field, offset, 'contains a NUL byte');
  bytes.copy(buf, offset);
}

/** What a request sets in the header; everything else is zero. */
export interface DmRequest {
  readonly name?: string;
  readonly uuid?: string;
  readonly dev?: DeviceNumber;
  readonly flags?: number;
  readonly eventNr?: number;
  readonly targetCount?: number;
}

/**
 * A zeroed request buffer of `dataSize` bytes (at least the header) with the
 * header filled in. The data area starts right after the header.
 */
export function encodeRequest(req: DmRequest, dataSize: number): Buffer {
  if (dataSize < DM_IOCTL_SIZE || dataSize > 0xffffffff) {
    throw new DmAbiError('dm_ioctl', 'data_size', IOC.dataSize, `${dataSize} is outside ${DM_IOCTL_SIZE}..2^32-1`);
  }
  const buf = Buffer.alloc(dataSize);
  DM_REQUEST_VERSION.forEach((v, i) => buf.writeUInt32LE(v, IOC.version + 4 * i));
  buf.writeUInt32LE(dataSize, IOC.dataSize);
  buf.writeUInt32LE(DM_IOCTL_SIZE, IOC.dataStart);
  buf.writeUInt32LE(req.targetCount ?? 0, IOC.targetCount);
  buf.writeUInt32LE(req.flags ?? 0, IOC.flags);
  buf.writeUInt32LE(req.eventNr ?? 0, IOC.eventNr);
  if (req.dev) buf.writeBigUInt64LE(encodeHugeDev(req.dev), IOC.dev);
  if (req.name !== undefined) writeCString(buf, IOC.name, DM_NAME_LEN, req.name, 'name');
  if (req.uuid !== undefined) writeCString(buf, IOC.uuid, DM_UUID_LEN, req.uuid, 'uuid');
  return buf;
}

/** The header the kernel wrote back, validated against the buffer it wrote into. */
export function decodeHeader(buf: Buffer): DmIoctlHeader {
  const S = 'dm_ioctl';
  if (buf.length < DM_IOCTL_SIZE) throw new DmAbiError(S, '(size)', 0, `buffer of ${buf.length} bytes is shorter than ${DM_IOCTL_SIZE}`);
  const version = [0, 1, 2].map((i) => buf.readUInt32LE(IOC.version + 4 * i)) as [number, number, number];
  if (version[0] !== DM_REQUEST_VERSION[0]) {
    throw new DmAbiError(S, 'version', IOC.version, `kernel interface ${version.join('.')} is not major version 4`);
  }
  const dataSize = buf.readUInt32LE(IOC.dataSize);
  const dataStart = buf.readUInt32LE(IOC.dataStart);
  const flags = buf.readUInt32LE(IOC.flags);
  if (dataStart < DM_IOCTL_SIZE || dataStart % 8 !== 0) {
    throw new DmAbiError(S, 'data_start', IOC.dataStart, `${dataStart} is not an 8-aligned offset at or after the header`);
  }
  // With BUFFER_FULL the kernel leaves data_size as we sent it. Commands
  // without a data area (create, remove, suspend, status...) come back with
  // offsetof(struct dm_ioctl, data) = 305 (dm-ioctl.c copy_params, seen on 6.1).
  if (dataSize > buf.length || dataSize < IOC.data) {
    throw new DmAbiError(S, 'data_size', IOC.dataSize, `${dataSize} is outside ${IOC.data}..${buf.length} (the buffer)`);
  }
  const openCount = buf.readInt32LE(IOC.openCount);
  if (openCount < 0) throw new DmAbiError(S, 'open_count', IOC.openCount, `${openCount} is negative`);
  const rawDev = buf.readBigUInt64LE(IOC.dev);
  return {
    version,
    dataSize,
    dataStart,
    targetCount: buf.readUInt32LE(IOC.targetCount),
    openCount,
    flags,
    eventNr: buf.readUInt32LE(IOC.eventNr),
    dev: rawDev === 0n ? null : decodeHugeDev(rawDev),
    name: cString(buf, IOC.name, DM_NAME_LEN, S, 'name'),
    uuid: cString(buf, IOC.uuid, DM_UUID_LEN, S, 'uuid'),
  };
}

/**
 * struct dm_target_spec: 40 bytes, then the NUL-terminated parameter string,
 * padded so the next spec is 8-byte aligned.
 */
export const DM_TARGET_SPEC_SIZE = 40;
const SPEC = { sectorStart: 0, length: 8, status: 16, next: 20, targetType: 24 } as const;

export interface TargetSpec {
  readonly start: Sectors;
  readonly length: Sectors;
  readonly type: string;
  readonly params: string;
}

const specRecordSize = (params: string): number => align8(DM_TARGET_SPEC_SIZE + params.length + 1);

/** Bytes the specs take in a TABLE_LOAD data area. */
export function targetSpecsSize(specs: readonly TargetSpec[]): number {
  let total = 0;
  for (const s of specs) total += specRecordSize(s.params);
  return total;
}

/**
 * Packs specs for TABLE_LOAD at `offset` (the data start). On input `next` is
 * the distance from this spec to the next one (dm-ioctl.c next_target); the
 * last spec's `next` is not read. Parameter strings must be printable ASCII:
 * the kernel splits them at whitespace and a NUL would end them early.
 *
 * This is the hot loop of a 100,000-segment load (under emulation it cost
 * about as much as the kernel's own work): u32 stores go through a typed
 * array (little-endian hosts: x86-64, arm64) and strings are copied and
 * checked in one pass, without a native call or a regular expression per
 * spec. The buffer must be zeroed (NULs, padding, status).
 */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function writeTargetSpecs(buf: Buffer, offset: number, specs: readonly TargetSpec[]): void {
  if (!LITTLE_ENDIAN) throw new DmAbiError('dm_target_spec', '(host)', 0, 'specs are packed for little-endian hosts only');
  if (buf.byteOffset % 4 !== 0 || offset % 8 !== 0) throw new DmAbiError('dm_target_spec', '(buffer)', offset, 'specs need a 4-aligned buffer and an 8-aligned offset');
  const u32 = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
  const typesSeen = new Set<string>();
  let at = offset;
  for (let i = 0; i < specs.length; i++) {
    const s = specs[i]!;
    if (!typesSeen.has(s.type)) {
      if (s.type.length === 0 || s.type.length >= DM_MAX_TYPE_NAME || !/^[\x21-\x7e]+$/.test(s.type)) {
        throw new DmAbiError(`dm_target_spec[${i}]`, 'target_type', at + SPEC.targetType, `"${s.type}" is not a target type name of 1..15 printable ASCII bytes`);
      }
      typesSeen.add(s.type);
    }
    const size = specRecordSize(s.params);
    const w = at >>> 2;
    u32[w] = s.start % 2 ** 32;
    u32[w + 1] = Math.floor(s.start / 2 ** 32);
    u32[w + 2] = s.length % 2 ** 32;
    u32[w + 3] = Math.floor(s.length / 2 ** 32);
    u32[w + 5] = i === specs.length - 1 ? 0 : size; // w + 4 is status: 0
    for (let k = 0; k < s.type.length; k++) buf[at + SPEC.targetType + k] = s.type.charCodeAt(k);
    const p = at + DM_TARGET_SPEC_SIZE;
    for (let k = 0; k < s.params.length; k++) {
      const c = s.params.charCodeAt(k);
      if (c < 0x20 || c > 0x7e) {
        throw new DmAbiError(`dm_target_spec[${i}]`, 'params', p, `parameters "${s.params}" are not printable ASCII`);
      }
      buf[p + k] = c;
    }
    at += size;
  }
}

/** A u64 as a number, or -1 beyond the safe-integer range (2^53). */
function readU64(buf: Buffer, at: number): number {
  const hi = buf.readUInt32LE(at + 4);
  return hi >= 2 ** 21 ? -1 : hi * 2 ** 32 + buf.readUInt32LE(at);
}

/** A spec as TABLE_STATUS returns it: params is the table line or the status text. */
export interface TargetSpecOut extends TargetSpec {
  readonly status: number;
}

/**
 * Decodes `count` specs from a TABLE_STATUS / DEV_WAIT reply. On output `next`
 * is the offset from the start of the data area (dm-ioctl.c retrieve_status).
 */
export function decodeTargetSpecs(buf: Buffer, header: DmIoctlHeader): TargetSpecOut[] {
  const base = header.dataStart;
  const end = header.dataSize;
  // One string for the whole reply: 100,000 specs are read without a native
  // call per string (that cost dominates under emulation).
  const text = buf.toString('latin1', 0, end);
  const out: TargetSpecOut[] = [];
  let rel = 0;
  for (let i = 0; i < header.targetCount; i++) {
    const at = base + rel;
    const fail = (field: string, offset: number, reason: string) => new DmAbiError(`dm_target_spec[${i}]`, field, offset, reason);
    if (at + DM_TARGET_SPEC_SIZE > end) throw fail('(record)', at, `runs past data_size ${end}`);
    const start = readU64(buf, at + SPEC.sectorStart);
    const length = readU64(buf, at + SPEC.length);
    if (start < 0) throw fail('sector_start', at, 'is beyond the safe integer range');
    if (length < 0) throw fail('length', at + SPEC.length, 'is beyond the safe integer range');
    const next = buf.readUInt32LE(at + SPEC.next);
    const typeEnd = text.indexOf('\0', at + SPEC.targetType);
    if (typeEnd < 0 || typeEnd >= at + DM_TARGET_SPEC_SIZE) throw fail('target_type', at + SPEC.targetType, `no NUL terminator within ${DM_MAX_TYPE_NAME} bytes`);
    const paramsEnd = text.indexOf('\0', at + DM_TARGET_SPEC_SIZE);
    if (paramsEnd < 0) throw fail('params', at + DM_TARGET_SPEC_SIZE, `no NUL terminator before data_size ${end}`);
    if (i < header.targetCount - 1 && (next % 8 !== 0 || next <= rel || base + next >= end)) {
      throw fail('next', at + SPEC.next, `${next} is not an 8-aligned offset after this spec and inside the data area`);
    }
    out.push({
      start: start as Sectors,
      length: length as Sectors,
      status: buf.readInt32LE(at + SPEC.status),
      type: text.slice(at + SPEC.targetType, typeEnd),
      params: text.slice(at + DM_TARGET_SPEC_SIZE, paramsEnd),
    });
    rel = next;
  }
  return out;
}

/** One device of LIST_DEVICES (struct dm_name_list and what follows its name). */
export interface NameListEntry {
  readonly name: string;
  readonly dev: DeviceNumber;
  /** Present from ioctl 4.37 on. */
  readonly eventNr: number | undefined;
  /** A string, null for "has no uuid", undefined where the kernel did not say. */
  readonly uuid: string | null | undefined;
}

const NL = { dev: 0, next: 8, name: 12 } as const;

/**
 * Decodes LIST_DEVICES. Each record: u64 dev, u32 next (from this record),
 * the name; then, 8-aligned, u32 event_nr and u32 flags; then, 8-aligned, the
 * uuid if flags has HAS_UUID. Older kernels stop after the name: the slack
 * the kernel leaves is zero in our zeroed buffer, so flags read as 0 there
 * and the uuid is reported unknown.
 */
export function decodeNameList(buf: Buffer, header: DmIoctlHeader): NameListEntry[] {
  const base = header.dataStart;
  const end = header.dataSize;
  if (base + 8 > end) return []; // nothing written: no devices
  const out: NameListEntry[] = [];
  let at = base;
  for (let i = 0; ; i++) {
    const S = `dm_name_list[${i}]`;
    const rawDev = buf.readBigUInt64LE(at + NL.dev);
    if (i === 0 && rawDev === 0n) return []; // "Flags no data"
    if (at + NL.name >= end) throw new DmAbiError(S, '(record)', at, `runs past data_size ${end}`);
    const next = buf.readUInt32LE(at + NL.next);
    const recordEnd = next === 0 ? end : at + next;
    if (next !== 0 && (next % 8 !== 0 || recordEnd > end)) {
      throw new DmAbiError(S, 'next', at + NL.next, `${next} is not an 8-aligned distance inside the data area`);
    }
    const name = cString(buf, at + NL.name, recordEnd - (at + NL.name), S, 'name');
    let dev: DeviceNumber;
    try {
      dev = decodeHugeDev(rawDev);
    } catch (e) {
      throw new DmAbiError(S, 'dev', at + NL.dev, (e as Error).message);
    }
    let eventNr: number | undefined;
    let uuid: string | null | undefined;
    const extra = align8(at + NL.name + name.length + 1);
    if (extra + 8 <= recordEnd) {
      eventNr = buf.readUInt32LE(extra);
      const flags = buf.readUInt32LE(extra + 4);
      if (flags & ~(DM_NAME_LIST_FLAG_HAS_UUID | DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID) || flags === 3) {
        throw new DmAbiError(S, 'flags', extra + 4, `0x${flags.toString(16)} has unknown or contradictory bits`);
      }
      if (flags & DM_NAME_LIST_FLAG_HAS_UUID) uuid = cString(buf, extra + 8, Math.min(DM_UUID_LEN, recordEnd - (extra + 8)), S, 'uuid');
      else if (flags & DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID) uuid = null;
    }
    out.push({ name, dev, eventNr, uuid });
    if (next === 0) return out;
    at = recordEnd;
  }
}

/** struct dm_target_deps: u32 count, u32 padding, u64 dev[count]. */
export function decodeDeps(buf: Buffer, header: DmIoctlHeader): DeviceNumber[] {
  const S = 'dm_target_deps';
  const at = header.dataStart;
  if (at + 8 > header.dataSize) return []; // no table: nothing written
  const count = buf.readUInt32LE(at);
  if (at + 8 + count * 8 > header.dataSize) {
    throw new DmAbiError(S, 'count', at, `${count} devices do not fit in data_size ${header.dataSize}`);
  }
  const out: DeviceNumber[] = [];
  for (let i = 0; i < count; i++) {
    const off = at + 8 + i * 8;
    try {
      out.push(decodeHugeDev(buf.readBigUInt64LE(off)));
    } catch (e) {
      throw new DmAbiError(S, `dev[${i}]`, off, (e as Error).message);
    }
  }
  return out;
}

export interface TargetVersion {
  readonly name: string;
  readonly version: readonly [number, number, number];
}

/** struct dm_target_versions records: u32 next (from this record), u32 version[3], name. */
export function decodeTargetVersions(buf: Buffer, header: DmIoctlHeader): TargetVersion[] {
  const out: TargetVersion[] = [];
  const end = header.dataSize;
  let at = header.dataStart;
  if (at + 16 >= end) return [];
  for (let i = 0; ; i++) {
    const S = `dm_target_versions[${i}]`;
    if (at + 16 >= end) throw new DmAbiError(S, '(record)', at, `runs past data_size ${end}`);
    const next = buf.readUInt32LE(at);
    const version = [1, 2, 3].map((k) => buf.readUInt32LE(at + 4 * k)) as [number, number, number];
    const recordEnd = next === 0 ? end : at + next;
    if (next !== 0 && (next % 8 !== 0 || next < 17 || recordEnd > end)) {
      throw new DmAbiError(S, 'next', at, `${next} is not an 8-aligned distance inside the data area`);
    }
    const name = cString(buf, at + 16, recordEnd - (at + 16), S, 'name');
    out.push({ name, version });
    if (next === 0) return out;
    at = recordEnd;
  }
}
