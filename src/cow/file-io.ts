/**
 * BlockIo over an image file or a block device, with positional I/O
 * (pread/pwrite through Node's fs) and fdatasync as the flush. On a block
 * device it also sends a cache flush to the device.
 */
import * as fs from 'node:fs';
import { type Bytes, bytes } from '../units/units.js';
import { fromNodeError } from '../linux/errors.js';
import { blockDeviceSize } from '../linux/blockdev.js';
import { type BlockIo, checkRange } from './io.js';

export class FileIo implements BlockIo {
  private constructor(
    private fd: number,
    readonly name: string,
    readonly size: Bytes,
  ) {}

  /** Opens read-only unless `writable`; never creates or truncates. */
  static open(path: string, options: { writable?: boolean } = {}): FileIo {
    let fd: number;
    try {
      fd = fs.openSync(path, options.writable ? 'r+' : 'r');
    } catch (err) {
      throw fromNodeError(err, 'open', path);
    }
    try {
      const st = fs.fstatSync(fd);
      const size = st.isBlockDevice() ? blockDeviceSize(fd, path) : bytes(st.size);
      return new FileIo(fd, path, size);
    } catch (err) {
      fs.closeSync(fd);
      throw fromNodeError(err, 'fstat', path);
    }
  }

  /** Creates a new file of `size` bytes (sparse); refuses an existing one. */
  static create(path: string, size: Bytes): FileIo {
    let fd: number;
    try {
      fd = fs.openSync(path, 'wx+');
    } catch (err) {
      throw fromNodeError(err, 'open', path);
    }
    try {
      fs.ftruncateSync(fd, size);
    } catch (err) {
      fs.closeSync(fd);
      throw fromNodeError(err, 'ftruncate', path);
    }
    return new FileIo(fd, path, size);
  }

  read(offset: Bytes, length: Bytes): Buffer {
    checkRange(this, 'pread', offset, length);
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    try {
      while (done < length) {
        const n = fs.readSync(this.fd, buf, done, length - done, offset + done);
        if (n === 0) throw new Error(`unexpected end of ${this.name} at byte ${offset + done}`);
        done += n;
      }
    } catch (err) {
      throw fromNodeError(err, 'pread', this.name);
    }
    return buf;
  }

  write(offset: Bytes, data: Buffer): void {
    checkRange(this, 'pwrite', offset, data.length);
    let done = 0;
    try {
      while (done < data.length) {
        done += fs.writeSync(this.fd, data, done, data.length - done, offset + done);
      }
    } catch (err) {
      throw fromNodeError(err, 'pwrite', this.name);
    }
  }

  /**
   * fdatasync: the data and what is needed to read it back (a new size) are
   * durable; a merge only overwrites, so the inode's mtime need not cost a
   * journal commit.
   */
  flush(): void {
    try {
      fs.fdatasyncSync(this.fd);
    } catch (err) {
      throw fromNodeError(err, 'fdatasync', this.name);
    }
  }

  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    fs.closeSync(fd);
  }
}
