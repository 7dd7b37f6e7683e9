/**
 * O_DIRECT I/O needs buffers aligned to the device's logical block size; a
 * Node Buffer's address is not guaranteed to be. These buffers come from
 * posix_memalign and are viewed as Buffers without copying.
 */
import * as fs from 'node:fs';
import type { Bytes } from '../units/units.js';
import { SnapstoreError } from '../errors.js';
import { fromNodeError, SyscallError } from './errors.js';
import { loadLibc } from './libc.js';

export const DIRECT_ALIGNMENT = 4096;

export interface AlignedBuffer {
  readonly buffer: Buffer;
  free(): void;
}

export function allocAligned(size: number, alignment = DIRECT_ALIGNMENT): AlignedBuffer {
  const libc = loadLibc();
  const out: unknown[] = [null];
  const rc = libc.posix_memalign(out, alignment, size);
  if (rc !== 0) throw new SyscallError('posix_memalign', rc, `${size} bytes`);
  const ptr = out[0];
  const buffer = Buffer.from(libc.view(ptr, size));
  buffer.fill(0);
  let freed = false;
  return {
    buffer,
    free() {
      if (!freed) libc.free(ptr);
      freed = true;
    },
  };
}

/** Reads exactly buf.length bytes at offset, or throws naming the short read. */
export function preadFull(fd: number, buf: Buffer, offset: Bytes, what: string): void {
  let done = 0;
  while (done < buf.length) {
    let n: number;
    try {
      n = fs.readSync(fd, buf, done, buf.length - done, offset + done);
    } catch (err) {
      throw fromNodeError(err, 'pread', what);
    }
    if (n === 0) {
      throw new SnapstoreError('IO_SHORT', `pread ${what}: the device ends at byte ${offset + done}, inside a read of ${buf.length} bytes at ${offset}`, {
        hint: 'the device is smaller than the map says: check it is the right device',
      });
    }
    done += n;
  }
}

export function pwriteFull(fd: number, buf: Buffer, offset: Bytes, what: string): void {
  let done = 0;
  while (done < buf.length) {
    try {
      done += fs.writeSync(fd, buf, done, buf.length - done, offset + done);
    } catch (err) {
      throw fromNodeError(err, 'pwrite', what);
    }
  }
}
