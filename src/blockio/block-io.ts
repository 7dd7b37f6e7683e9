/**
 * Block I/O as the store and merge code need it: positional reads and writes and a
 * flush that makes earlier writes durable. The calls are synchronous on
 * purpose: a merge issues tens of thousands of small I/Os, and a thread-pool
 * round trip per call costs more than copying the 4 KiB itself; a merge is a
 * one-shot job with nothing else for the event loop to do.
 */
import { type Bytes, formatBytes } from '../units/units.js';
import { ERRNO } from '../linux/errno.js';
import { SyscallError } from '../linux/errors.js';

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
      ERRNO.EINVAL,
      io.name,
      `${formatBytes(length)} at byte ${offset} runs past the end (${io.size} bytes)`,
    );
  }
}
