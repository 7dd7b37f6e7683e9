/**
 * Writes a persistent exception store the way the kernel does
 * (persistent_read_metadata for a new store, persistent_prepare_exception,
 * persistent_commit_exception): header and zeroed area 0 first; data chunks
 * allocated in order from next_free, skipping every metadata area (the
 * CVE-2013-4299 fix: a data chunk on a metadata area corrupts the table); the
 * next area zeroed before the current one is committed full. For tests, test
 * fixtures and benchmarks: snapstore never writes exceptions in production.
 */
import { type Bytes, type ChunkSize, type Chunks, bytes, chunks } from '../units/units.js';
import { SnapstoreError } from '../errors.js';
import { DiskException, DiskHeader, HEADER_CHUNKS, Layout, SNAP_MAGIC, SNAPSHOT_DISK_VERSION } from './format.js';
import type { BlockIo } from '../blockio/block-io.js';
import type { CowException } from './exception-table.js';

export class CowWriter {
  readonly layout: Layout;
  private area = 0;
  private committed = 0;
  private nextFree: number = HEADER_CHUNKS + 1;
  private readonly areaBuf: Buffer;

  private constructor(
    private readonly io: BlockIo,
    readonly chunk: ChunkSize,
  ) {
    this.layout = new Layout(chunk);
    this.areaBuf = Buffer.alloc(chunk.bytes);
  }

  /** Formats a new store: header (valid) and an empty area 0. */
  static create(io: BlockIo, chunk: ChunkSize): CowWriter {
    const w = new CowWriter(io, chunk);
    if (io.size < w.layout.offsetOf(chunks(HEADER_CHUNKS + 2))) {
      throw new SnapstoreError('COW_STORE_FULL', `${io.name} (${io.size} bytes) cannot hold a header, an area and one data chunk`, {
        hint: 'give a larger store',
      });
    }
    w.writeHeader(true);
    io.write(w.layout.offsetOf(w.layout.areaChunk(0)), w.areaBuf);
    return w;
  }

  writeHeader(valid: boolean): void {
    const buf = Buffer.alloc(this.chunk.bytes);
    DiskHeader.encode(
      { magic: SNAP_MAGIC, valid: valid ? 1 : 0, version: SNAPSHOT_DISK_VERSION, chunk_size: this.chunk.sectors },
      buf,
      0,
    );
    this.io.write(bytes(0), buf);
  }

  private chunkOffset(c: number): Bytes {
    return this.layout.offsetOf(chunks(c));
  }

  /**
   * Records that origin chunk `oldChunk` held `data` (one chunk) before it
   * was overwritten: the data goes to the next free data chunk.
   */
  append(oldChunk: Chunks, data: Buffer): CowException {
    if (data.length !== this.chunk.bytes) throw new SnapstoreError('BUG', `CowWriter.append: data is ${data.length} bytes, not one chunk`);
    if (this.io.size < this.chunkOffset(this.nextFree + 1)) {
      throw new SnapstoreError('COW_STORE_FULL', `${this.io.name} is full: data chunk ${this.nextFree} does not fit`, {
        hint: 'give a larger store',
      });
    }
    const newChunk = chunks(this.nextFree);
    this.nextFree++;
    if (this.layout.isMetadataChunk(chunks(this.nextFree))) this.nextFree++;
    this.io.write(this.chunkOffset(newChunk), data);
    DiskException.encode({ old_chunk: BigInt(oldChunk), new_chunk: BigInt(newChunk) }, this.areaBuf, this.committed * DiskException.size);
    this.committed++;
    if (this.committed === this.layout.epa) {
      // The kernel zeroes the next area before committing a full one, so a
      // full area is always followed by a readable end of table.
      const next = this.layout.areaChunk(this.area + 1);
      if (this.io.size < this.chunkOffset(next + 1)) {
        throw new SnapstoreError('COW_STORE_FULL', `${this.io.name} is full: area ${this.area + 1} (chunk ${next}) does not fit`, {
          hint: 'give a larger store',
        });
      }
      this.io.write(this.chunkOffset(next), Buffer.alloc(this.chunk.bytes));
      this.writeArea();
      this.area++;
      this.committed = 0;
      this.areaBuf.fill(0);
    }
    return { oldChunk, newChunk };
  }

  private writeArea(): void {
    this.io.write(this.chunkOffset(this.layout.areaChunk(this.area)), this.areaBuf);
  }

  /** Writes the current area and flushes, as the kernel's commit does. */
  commit(): void {
    this.writeArea();
    this.io.flush();
  }
}
