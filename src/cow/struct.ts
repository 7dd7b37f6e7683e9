import { SnapstoreError } from '../errors.js';

/**
 * A fixed-size little-endian on-disk struct described once: its name (as in
 * the kernel header), its fields from one offset table, and decode/encode
 * derived from that table. Only u32 and u64 fields exist in the formats we
 * read; u64 fields decode as bigint and are converted to checked units by the
 * caller, where it knows what the value means.
 */
type FieldType = 'u32' | 'u64';
type FieldValue<T extends FieldType> = T extends 'u32' ? number : bigint;

export interface FieldSpec<T extends FieldType = FieldType> {
  readonly offset: number;
  readonly type: T;
}

export type Decoded<F extends Record<string, FieldSpec>> = { [K in keyof F]: FieldValue<F[K]['type']> };

export interface Struct<F extends Record<string, FieldSpec>> {
  /** The struct's name in its kernel header, for error messages. */
  readonly name: string;
  readonly size: number;
  readonly fields: F;
  /** Decodes the struct at `at`; `where` says what the buffer is (e.g. "store byte 4096"). */
  decode(buf: Buffer, at: number, where: string): Decoded<F>;
  encode(value: Decoded<F>, buf: Buffer, at: number): void;
}

const WIDTH: Record<FieldType, number> = { u32: 4, u64: 8 };

export function defineStruct<F extends Record<string, FieldSpec>>(name: string, size: number, fields: F): Struct<F> {
  const entries = Object.entries(fields) as [keyof F & string, FieldSpec][];
  for (const [field, spec] of entries) {
    if (spec.offset + WIDTH[spec.type] > size) throw new SnapstoreError('BUG', `${name}.${field} lies outside its ${size} bytes`);
  }
  return {
    name,
    size,
    fields,
    decode(buf, at, where) {
      const out: Record<string, number | bigint> = {};
      for (const [field, spec] of entries) {
        const offset = at + spec.offset;
        if (offset < 0 || offset + WIDTH[spec.type] > buf.length) {
          throw new SnapstoreError(
            'COW_SHORT_READ',
            `${name}.${field} at byte ${spec.offset} of the struct (${where}) lies past the end of the ${buf.length}-byte buffer read`,
            { hint: 'the store is shorter than its own table says: it was truncated or the wrong device was given' },
          );
        }
        out[field] = spec.type === 'u32' ? buf.readUInt32LE(offset) : buf.readBigUInt64LE(offset);
      }
      return out as Decoded<F>;
    },
    encode(value, buf, at) {
      for (const [field, spec] of entries) {
        const v = value[field];
        if (spec.type === 'u32') buf.writeUInt32LE(v as number, at + spec.offset);
        else buf.writeBigUInt64LE(v as bigint, at + spec.offset);
      }
    },
  };
}

/**
 * A u64 field as a number when it is below 2^53, else Infinity, for loops
 * over thousands of entries that only compare it with limits (any limit
 * refuses Infinity); `decode` gives the exact bigint for the message. Reads
 * through a DataView: one builtin call per word, where Buffer's readers run
 * JS byte by byte, which counts in a merge's cold start.
 */
export function readU64Number(view: DataView, at: number): number {
  const high = view.getUint32(at + 4, true);
  return high < 2 ** 21 ? high * 2 ** 32 + view.getUint32(at, true) : Infinity;
}
