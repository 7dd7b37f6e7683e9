import { type Bytes, bytes } from '../units/units.js';
import { type BlockIo, checkRange } from './block-io.js';

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
