/**
 * Block I/O as the store code needs it: positional reads and writes and a
 * flush that makes earlier writes durable. The calls are synchronous on
 * purpose: a merge issues tens of thousands of small I/Os, and a thread-pool
 * round trip per call costs more than copying the 4 KiB itself; a merge is a
 * one-shot job with nothing else for the event loop to do.
 */
import { type Bytes, bytes, formatBytes } from '../units/units.js';
import { SyscallError } from '../linux/errors.js';
import { errnoCode } from '../linux/errno.js';

export interface BlockIo {
  /** What the I/O is on (a path, "store", "origin"), for messages. */
  readonly name: string;
  readonly size: Bytes;
  /** Reads exactly `length` bytes; a read past the end is an error. */
  read(offset: Bytes, length: Bytes): Buffer;
  write(offset: Bytes, data: Buffer): void;
  /** Durable: everything written before is on stable storage after this. */
  flush(): void;
  close(): void;
}

/** Refuses I/O past the end with the same message for every implementation. */
export function checkRange(io: { name: string; size: Bytes }, op: string, offset: number, length: number): void {
  if (offset + length > io.size) {
    throw new SyscallError(
      op,
      22,
      io.name,
      `${formatBytes(length)} at byte ${offset} runs past the end (${io.size} bytes)`,
    );
  }
}

/** A disk in memory: tests, and stores built before they are written out. */
export class MemoryIo implements BlockIo {
  readonly size: Bytes;
  flushes = 0;
  constructor(
    readonly data: Buffer,
    readonly name = 'memory',
  ) {
    this.size = bytes(data.length);
  }

  static zeroed(size: Bytes, name?: string): MemoryIo {
    return new MemoryIo(Buffer.alloc(size), name);
  }

  read(offset: Bytes, length: Bytes): Buffer {
    checkRange(this, 'read', offset, length);
    return Buffer.from(this.data.subarray(offset, offset + length));
  }

  write(offset: Bytes, data: Buffer): void {
    checkRange(this, 'write', offset, data.length);
    data.copy(this.data, offset);
  }

  flush(): void {
    this.flushes++;
  }

  close(): void {}
}

export type IoOp = 'read' | 'write' | 'flush';

/**
 * Wraps a BlockIo and fails the Nth call of one kind (1-based) with an errno,
 * as the kernel would report a media or transport error. Later calls pass.
 */
export class FaultyIo implements BlockIo {
  private counts: Record<IoOp, number> = { read: 0, write: 0, flush: 0 };
  constructor(
    readonly inner: BlockIo,
    private readonly fault: { op: IoOp; nth: number; errno?: number },
  ) {}

  get name(): string {
    return this.inner.name;
  }
  get size(): Bytes {
    return this.inner.size;
  }

  private tick(op: IoOp): void {
    this.counts[op]++;
    if (this.fault.op === op && this.counts[op] === this.fault.nth) {
      const errno = this.fault.errno ?? 5;
      throw new SyscallError(op, errno, this.inner.name, `injected ${errnoCode(errno)}`);
    }
  }

  read(offset: Bytes, length: Bytes): Buffer {
    this.tick('read');
    return this.inner.read(offset, length);
  }
  write(offset: Bytes, data: Buffer): void {
    this.tick('write');
    this.inner.write(offset, data);
  }
  flush(): void {
    this.tick('flush');
    this.inner.flush();
  }
  close(): void {
    this.inner.close();
  }
}
