/**
 * The table model: a table is a list of target objects laid end to end. Each
 * target renders its own parameter string and parses it back from what the
 * kernel prints (TABLE_STATUS with DM_STATUS_TABLE_FLAG, i.e. `dmsetup
 * table`). Rendering is pure: what the running kernel supports is passed in
 * as `KernelFeatures`, never queried here. Formats from the kernel's
 * *_status(STATUSTYPE_TABLE) functions: dm-linear.c, dm-flakey.c,
 * dm-snap.c, dm-snap-persistent.c / dm-snap-transient.c.
 */
import {
  add,
  bytes,
  chunkSize,
  sectors,
  SECTOR_BYTES,
  type ChunkSize,
  type Sectors,
} from '../units/units.js';
import { SnapstoreError } from '../errors.js';
import type { TargetSpec } from './abi.js';
import { formatDeviceNumber, parseDeviceNumber, type DeviceNumber } from '../linux/device-number.js';

/** A table or target that is malformed, or needs more than the kernel offers. */
export class TableError extends SnapstoreError {
  override name = 'TableError';
  constructor(message: string) {
    super('DM_TABLE', message, { hint: 'check the table; `dmsetup targets` lists what this kernel offers' });
  }
}

/** Target versions the kernel reported (LIST_VERSIONS), by target name. */
export interface KernelFeatures {
  readonly targetVersions: ReadonlyMap<string, readonly [number, number, number]>;
}

function requireVersion(features: KernelFeatures, target: string, min: readonly [number, number, number], what: string): void {
  const v = features.targetVersions.get(target);
  const ok = v !== undefined && (v[0] - min[0] || v[1] - min[1] || v[2] - min[2]) >= 0;
  if (!ok) {
    throw new TableError(
      `${what} needs the ${target} target ${min.join('.')} or newer; this kernel has ${v ? v.join('.') : 'no ' + target + ' target loaded'}`,
    );
  }
}

export interface Target {
  readonly type: string;
  readonly length: Sectors;
  /** The parameter string for TABLE_LOAD. */
  render(features: KernelFeatures): string;
}

const dec = (n: number): string => String(n);

function parseCount(token: string | undefined, what: string): number {
  if (token === undefined || !/^\d+$/.test(token)) throw new TableError(`${what} "${token ?? ''}" is not a decimal number`);
  const n = Number(token);
  if (!Number.isSafeInteger(n)) throw new TableError(`${what} ${token} is too large`);
  return n;
}

const parseSectors = (token: string | undefined, what: string): Sectors => sectors(parseCount(token, what));

function parseDev(token: string | undefined, what: string): DeviceNumber {
  try {
    return parseDeviceNumber(token ?? '');
  } catch (e) {
    throw new TableError(`${what}: ${(e as Error).message}`);
  }
}

function expectArgs(type: string, args: readonly string[], count: number): void {
  if (args.length !== count) {
    throw new TableError(`${type} takes ${count} parameters, got ${args.length}: "${args.join(' ')}"`);
  }
}

export class LinearTarget implements Target {
  readonly type = 'linear';
  constructor(
    readonly length: Sectors,
    readonly device: DeviceNumber,
    readonly offset: Sectors,
  ) {}
  render(): string {
    return `${this.device.major}:${this.device.minor} ${this.offset}`; // maj:min offset, in one string
  }
  static parse(length: Sectors, args: readonly string[]): LinearTarget {
    expectArgs('linear', args, 2);
    return new LinearTarget(length, parseDev(args[0], 'linear device'), parseSectors(args[1], 'linear offset'));
  }
}

/** Targets that take no parameters. */
abstract class BareTarget implements Target {
  abstract readonly type: string;
  constructor(readonly length: Sectors) {}
  render(): string {
    return '';
  }
}

export class ZeroTarget extends BareTarget {
  readonly type = 'zero';
  static parse(length: Sectors, args: readonly string[]): ZeroTarget {
    expectArgs('zero', args, 0);
    return new ZeroTarget(length);
  }
}

export class ErrorTarget extends BareTarget {
  readonly type = 'error';
  static parse(length: Sectors, args: readonly string[]): ErrorTarget {
    expectArgs('error', args, 0);
    return new ErrorTarget(length);
  }
}

export interface CorruptBioByte {
  /** 1-based byte within each bio that gets `value`. */
  readonly byte: number;
  readonly direction: 'r' | 'w';
  readonly value: number;
  readonly bioFlags: number;
}

export interface FlakeyOptions {
  /** While down: writes are dropped (`drop_writes`) or failed (`error_writes`); default: all I/O fails. */
  readonly writes?: 'drop' | 'error';
  readonly corruptBioByte?: CorruptBioByte;
}

/** dm-flakey: `<dev> <offset> <up secs> <down secs> <#features> [features]`. */
export class FlakeyTarget implements Target {
  readonly type = 'flakey';
  constructor(
    readonly length: Sectors,
    readonly device: DeviceNumber,
    readonly offset: Sectors,
    readonly upSeconds: number,
    readonly downSeconds: number,
    readonly options: FlakeyOptions = {},
  ) {
    if (upSeconds + downSeconds === 0) throw new TableError('flakey needs a non-zero up or down interval');
  }
  render(features: KernelFeatures): string {
    const f: string[] = [];
    if (this.options.writes === 'drop') f.push('drop_writes');
    if (this.options.writes === 'error') {
      requireVersion(features, 'flakey', [1, 4, 0], 'flakey error_writes');
      f.push('error_writes');
    }
    const c = this.options.corruptBioByte;
    if (c) f.push('corrupt_bio_byte', dec(c.byte), c.direction, dec(c.value), dec(c.bioFlags));
    // The kernel always prints the feature count, 0 included.
    return [formatDeviceNumber(this.device), dec(this.offset), dec(this.upSeconds), dec(this.downSeconds), dec(f.length), ...f].join(' ');
  }
  static parse(length: Sectors, args: readonly string[]): FlakeyTarget {
    if (args.length < 4) throw new TableError(`flakey takes at least 4 parameters, got "${args.join(' ')}"`);
    const device = parseDev(args[0], 'flakey device');
    const offset = parseSectors(args[1], 'flakey offset');
    const up = parseCount(args[2], 'flakey up interval');
    const down = parseCount(args[3], 'flakey down interval');
    const options: { writes?: 'drop' | 'error'; corruptBioByte?: CorruptBioByte } = {};
    if (args.length > 4) {
      const count = parseCount(args[4], 'flakey feature count');
      const rest = args.slice(5);
      if (rest.length !== count) throw new TableError(`flakey announces ${count} feature arguments but has ${rest.length}: "${rest.join(' ')}"`);
      for (let i = 0; i < rest.length; i++) {
        const word = rest[i];
        if ((word === 'drop_writes' || word === 'error_writes') && options.writes === undefined) {
          options.writes = word === 'drop_writes' ? 'drop' : 'error';
        } else if (word === 'corrupt_bio_byte' && options.corruptBioByte === undefined) {
          const dir = rest[i + 2];
          if (dir !== 'r' && dir !== 'w') throw new TableError(`flakey corrupt_bio_byte direction "${dir ?? ''}" is not r or w`);
          options.corruptBioByte = {
            byte: parseCount(rest[i + 1], 'flakey corrupt_bio_byte byte'),
            direction: dir,
            value: parseCount(rest[i + 3], 'flakey corrupt_bio_byte value'),
            bioFlags: parseCount(rest[i + 4], 'flakey corrupt_bio_byte flags'),
          };
          i += 4;
        } else {
          throw new TableError(`flakey feature "${word}" is unknown or repeated`);
        }
      }
    }
    return new FlakeyTarget(length, device, offset, up, down, options);
  }
}

/** dm-snapshot's snapshot-origin: `<origin dev>`. */
export class SnapshotOriginTarget implements Target {
  readonly type = 'snapshot-origin';
  constructor(
    readonly length: Sectors,
    readonly origin: DeviceNumber,
  ) {}
  render(): string {
    return formatDeviceNumber(this.origin);
  }
  static parse(length: Sectors, args: readonly string[]): SnapshotOriginTarget {
    expectArgs('snapshot-origin', args, 1);
    return new SnapshotOriginTarget(length, parseDev(args[0], 'snapshot-origin device'));
  }
}

/**
 * The exception store kind: `P` persistent, `PO` persistent and reporting
 * "Overflow" instead of invalidating when full, `N` transient (in memory).
 */
export type StoreKind = 'P' | 'PO' | 'N';

export interface SnapshotOptions {
  readonly discardZeroesCow?: boolean;
  readonly discardPassdownOrigin?: boolean;
}

/** `<origin> <cow> <P|PO|N> <chunk sectors> [<#features> <features>]` (dm-snap.c). */
abstract class SnapshotLike implements Target {
  abstract readonly type: 'snapshot' | 'snapshot-merge';
  constructor(
    readonly length: Sectors,
    readonly origin: DeviceNumber,
    readonly cow: DeviceNumber,
    readonly store: StoreKind,
    readonly chunk: ChunkSize,
    readonly options: SnapshotOptions = {},
  ) {
    if (options.discardPassdownOrigin && !options.discardZeroesCow) {
      throw new TableError('discard_passdown_origin requires discard_zeroes_cow (dm-snap.c parse_snapshot_features)');
    }
  }
  render(features: KernelFeatures): string {
    const f: string[] = [];
    if (this.options.discardZeroesCow) f.push('discard_zeroes_cow');
    if (this.options.discardPassdownOrigin) f.push('discard_passdown_origin');
    if (f.length > 0) requireVersion(features, this.type, [1, 16, 0], `${this.type} ${f.join(' and ')}`);
    const base = [formatDeviceNumber(this.origin), formatDeviceNumber(this.cow), this.store, dec(this.chunk.sectors)];
    return (f.length > 0 ? [...base, dec(f.length), ...f] : base).join(' ');
  }
  protected static parseArgs(type: string, args: readonly string[]) {
    if (args.length < 4) throw new TableError(`${type} takes at least 4 parameters, got "${args.join(' ')}"`);
    const store = args[2];
    if (store !== 'P' && store !== 'PO' && store !== 'N') {
      throw new TableError(`${type} store type "${store ?? ''}" is not P, PO or N`);
    }
    const chunkSectors = parseCount(args[3], `${type} chunk size`);
    let chunk: ChunkSize;
    try {
      chunk = chunkSize(bytes(chunkSectors * SECTOR_BYTES));
    } catch (e) {
      throw new TableError(`${type} chunk size of ${chunkSectors} sectors: ${(e as Error).message}`);
    }
    const options: { discardZeroesCow?: boolean; discardPassdownOrigin?: boolean } = {};
    if (args.length > 4) {
      const count = parseCount(args[4], `${type} feature count`);
      const rest = args.slice(5);
      if (rest.length !== count) throw new TableError(`${type} announces ${count} features but has ${rest.length}: "${rest.join(' ')}"`);
      for (const word of rest) {
        if (word === 'discard_zeroes_cow' && !options.discardZeroesCow) options.discardZeroesCow = true;
        else if (word === 'discard_passdown_origin' && !options.discardPassdownOrigin) options.discardPassdownOrigin = true;
        else throw new TableError(`${type} feature "${word}" is unknown or repeated`);
      }
    }
    return {
      origin: parseDev(args[0], `${type} origin`),
      cow: parseDev(args[1], `${type} COW device`),
      store: store as StoreKind,
      chunk,
      options,
    };
  }
}

export class SnapshotTarget extends SnapshotLike {
  readonly type = 'snapshot';
  static parse(length: Sectors, args: readonly string[]): SnapshotTarget {
    const a = SnapshotLike.parseArgs('snapshot', args);
    return new SnapshotTarget(length, a.origin, a.cow, a.store, a.chunk, a.options);
  }
}

export class SnapshotMergeTarget extends SnapshotLike {
  readonly type = 'snapshot-merge';
  static parse(length: Sectors, args: readonly string[]): SnapshotMergeTarget {
    const a = SnapshotLike.parseArgs('snapshot-merge', args);
    return new SnapshotMergeTarget(length, a.origin, a.cow, a.store, a.chunk, a.options);
  }
}

/** A target type we do not model (crypt, verity, thin...): kept as its raw text. */
export class OtherTarget implements Target {
  constructor(
    readonly type: string,
    readonly length: Sectors,
    readonly params: string,
  ) {}
  render(): string {
    return this.params;
  }
}

const PARSERS: Record<string, (length: Sectors, args: readonly string[]) => Target> = {
  linear: LinearTarget.parse,
  zero: ZeroTarget.parse,
  error: ErrorTarget.parse,
  flakey: FlakeyTarget.parse,
  'snapshot-origin': SnapshotOriginTarget.parse,
  snapshot: SnapshotTarget.parse,
  'snapshot-merge': SnapshotMergeTarget.parse,
};

/** Words of a parameter string; the kernel (dm_split_args) splits at whitespace. */
const words = (params: string): string[] => {
  const t = params.trim();
  return t === '' ? [] : t.split(/\s+/);
};

/** One target from its type, length and parameter text (kernel readback or our own). */
export function parseTarget(type: string, length: Sectors, params: string): Target {
  const parser = PARSERS[type];
  return parser ? parser(length, words(params)) : new OtherTarget(type, length, params.trim());
}

export type Table = readonly Target[];

export function tableLength(table: Table): Sectors {
  return table.reduce((sum, t) => add(sum, t.length), sectors(0));
}

/** The specs for TABLE_LOAD: targets laid end to end from sector 0. */
export function tableSpecs(table: Table, features: KernelFeatures): TargetSpec[] {
  if (table.length === 0) throw new TableError('a table needs at least one target');
  const specs = new Array<TargetSpec>(table.length);
  // Plain sums (100,000 segments): each is below the total, which is checked once.
  let start = 0;
  for (let i = 0; i < table.length; i++) {
    const t = table[i]!;
    if (!(t.length > 0)) throw new TableError(`target ${i} (${t.type}) has length 0`);
    specs[i] = { start: start as Sectors, length: t.length, type: t.type, params: t.render(features) };
    start += t.length;
  }
  sectors(start);
  return specs;
}

/**
 * A table from specs read back (TABLE_STATUS) or parsed from text: checks
 * the targets are contiguous from 0, as dm_table_add_target demands.
 */
export function tableFromSpecs(specs: readonly TargetSpec[]): Target[] {
  let expected = sectors(0);
  return specs.map((s, i) => {
    if (s.start !== expected) throw new TableError(`target ${i} starts at sector ${s.start}, expected ${expected} (targets must be contiguous)`);
    expected = add(expected, s.length);
    return parseTarget(s.type, s.length, s.params);
  });
}

/** Parses `dmsetup table` output for one device: `<start> <length> <type> [params]` per line. */
export function parseTableText(text: string): Target[] {
  const specs = text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      const m = /^\s*(\d+)\s+(\d+)\s+(\S+)(?:\s+(.*))?$/.exec(line);
      if (!m) throw new TableError(`table line ${i + 1} "${line}" is not "<start> <length> <type> [params]"`);
      return {
        start: parseSectors(m[1], `line ${i + 1} start`),
        length: parseSectors(m[2], `line ${i + 1} length`),
        type: m[3] ?? '',
        params: m[4] ?? '',
      };
    });
  return tableFromSpecs(specs);
}
