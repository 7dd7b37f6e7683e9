/**
 * Our own record of an offline merge, kept in the header chunk right after
 * struct disk_header (bytes 16..55 of sector 0). The kernel reads only the
 * first 16 bytes of that chunk (read_header) and zeroes the rest whenever it
 * rewrites the header (write_header), so the record is invisible to it and
 * never survives the kernel reusing the store.
 *
 * It lets a rerun say where it stands. Progress itself is the exception table:
 * a merge consumes it from the end, like the kernel's snapshot-merge, so a
 * half-merged store is also one the kernel can finish. `first` (the table's
 * first entry when the merge began) tells a record of this table from a stale
 * one left by an earlier use of the same store.
 */
import { SECTOR_BYTES, bytes } from '../units/units.js';
import { SnapstoreError } from '../errors.js';
import { DiskHeader } from './format.js';
import { defineStruct } from './struct.js';
import type { BlockIo } from '../blockio/block-io.js';

/** "SsMg" read as a little-endian u32. */
const RECORD_MAGIC = 0x674d7353;
const RECORD_VERSION = 1;
const RECORD_OFFSET = DiskHeader.size;

const STATES = { merging: 1, merged: 2 } as const;

/** struct snapstore_merge_record (ours), packed, little-endian. */
const Record = defineStruct('snapstore_merge_record', 40, {
  magic: { offset: 0, type: 'u32' },
  version: { offset: 4, type: 'u32' },
  state: { offset: 8, type: 'u32' },
  reserved: { offset: 12, type: 'u32' },
  total_exceptions: { offset: 16, type: 'u64' },
  first_old_chunk: { offset: 24, type: 'u64' },
  first_new_chunk: { offset: 32, type: 'u64' },
});

export interface MergeState {
  readonly state: keyof typeof STATES;
  /** Exceptions in the table when the merge began. */
  readonly total: number;
  readonly firstOld: bigint;
  readonly firstNew: bigint;
}

export const MergeRecord = {
  read(headerChunk: Buffer, name: string): MergeState | undefined {
    const r = Record.decode(headerChunk, RECORD_OFFSET, `${name} byte ${RECORD_OFFSET}`);
    if (r.magic !== RECORD_MAGIC) return undefined;
    const state = (Object.keys(STATES) as (keyof typeof STATES)[]).find((k) => STATES[k] === r.state);
    if (r.version !== RECORD_VERSION || state === undefined) {
      throw new SnapstoreError(
        'COW_BAD_MERGE_RECORD',
        `${name}: snapstore_merge_record at byte ${RECORD_OFFSET} has version ${r.version}, state ${r.state}; this snapstore writes version ${RECORD_VERSION}, states 1 and 2`,
        { hint: 'a newer snapstore wrote it: use that version to finish the merge' },
      );
    }
    return {
      state,
      total: Number(r.total_exceptions),
      firstOld: r.first_old_chunk,
      firstNew: r.first_new_chunk,
    };
  },

  /** Rewrites sector 0 with the record and makes it durable. */
  write(io: BlockIo, value: MergeState): void {
    const sector = io.read(bytes(0), bytes(SECTOR_BYTES));
    Record.encode(
      {
        magic: RECORD_MAGIC,
        version: RECORD_VERSION,
        state: STATES[value.state],
        reserved: 0,
        total_exceptions: BigInt(value.total),
        first_old_chunk: value.firstOld,
        first_new_chunk: value.firstNew,
      },
      sector,
      RECORD_OFFSET,
    );
    io.write(bytes(0), sector);
    io.flush();
  },
};
