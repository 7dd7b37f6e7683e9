/**
 * What a store holds, in the terms `dmsetup status` and a user need: chunk
 * size, validity, exceptions, areas, how much of the origin they cover, and
 * the usage the kernel would report (allocated/total metadata, in sectors).
 */
import { type Bytes, type Sectors, bytes, bytesToSectors, chunks, chunksToBytes, mul } from '../units/units.js';
import type { BlockIo } from '../blockio/block-io.js';
import { type CowException, readTable } from './exception-table.js';
import { HEADER_CHUNKS } from './format.js';
import type { MergeState } from './merge-record.js';

export interface StoreReport {
  readonly chunkBytes: Bytes;
  readonly valid: boolean;
  readonly exceptions: number;
  readonly areasUsed: number;
  readonly exceptionsPerArea: number;
  /** Origin bytes the snapshot holds old contents for (exceptions × chunk). */
  readonly originBytesChanged: Bytes;
  readonly storeBytes: Bytes;
  /** As the kernel's status line reports it: allocated/total metadata. */
  readonly usage: { readonly allocated: Sectors; readonly total: Sectors; readonly metadata: Sectors };
  readonly merge: MergeState | undefined;
  readonly list?: readonly CowException[];
}

export function inspectStore(store: BlockIo, options: { exceptions?: boolean } = {}): StoreReport {
  const t = readTable(store);
  const c = t.chunk;
  return {
    chunkBytes: c.bytes,
    valid: t.valid,
    exceptions: t.count,
    areasUsed: t.areasRead,
    exceptionsPerArea: t.layout.epa,
    originBytesChanged: mul(c.bytes, t.count),
    storeBytes: t.storeSize,
    usage: {
      allocated: bytesToSectors(chunksToBytes(t.nextFree, c)),
      // get_dev_size(): whole sectors of the COW device.
      total: bytesToSectors(bytes(t.storeSize - (t.storeSize % 512))),
      metadata: bytesToSectors(chunksToBytes(chunks(t.areasRead + HEADER_CHUNKS), c)),
    },
    merge: t.merge,
    ...(options.exceptions ? { list: t.exceptions } : {}),
  };
}
