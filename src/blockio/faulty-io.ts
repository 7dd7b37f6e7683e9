import type { Bytes } from '../units/units.js';
import { ERRNO, errnoCode } from '../linux/errno.js';
import { SyscallError } from '../linux/errors.js';
import type { BlockIo } from './block-io.js';

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
      const errno = this.fault.errno ?? ERRNO.EIO;
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
