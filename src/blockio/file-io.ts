/**
 * BlockIo over an image file or a block device, with positional I/O
 * (pread/pwrite through Node's fs) and fdatasync as the flush. On a block
 * device it also sends a cache flush to the device. With `direct`, I/O
 * bypasses the page cache (O_DIRECT) through an aligned bounce buffer: what is
 * read is what is on the disk, whatever the filesystem above has cached.
 */
import * as fs from 'node:fs';
import { type Bytes, bytes } from '../units/units.js';
import { fromNodeError } from '../linux/errors.js';
import { blockDeviceSize, logicalBlockSize } from '../linux/blockdev.js';
import { allocAligned, preadFull, pwriteFull } from '../linux/direct-io.js';
import { type BlockIo, checkRange } from './block-io.js';

export class FileIo implements BlockIo {
  private constructor(
    private fd: number,
    readonly name: string,
    readonly size: Bytes,
    /** O_DIRECT's alignment (the device's logical block size), or 0 for buffered I/O */
    private readonly directBlock: number = 0,
  ) {}

  /**
   * Opens read-only unless `writable`; never creates or truncates. With
   * `exclusive`, a block device is opened O_EXCL: the kernel refuses (EBUSY)
   * while a filesystem is mounted on it or another device holds it.
   */
  static open(path: string, options: { writable?: boolean; direct?: boolean; exclusive?: boolean } = {}): FileIo {
    let fd: number;
    try {
      const exclusive = options.exclusive && fs.statSync(path).isBlockDevice() ? fs.constants.O_EXCL : 0;
      const flags = (options.writable ? fs.constants.O_RDWR : fs.constants.O_RDONLY) | (options.direct ? fs.constants.O_DIRECT : 0) | exclusive;
      fd = fs.openSync(path, flags);
    } catch (err) {
      throw fromNodeError(err, 'open', path);
    }
    try {
      const st = fs.fstatSync(fd);
      const device = st.isBlockDevice();
      const size = device ? blockDeviceSize(fd, path) : bytes(st.size);
      const block = options.direct ? (device ? Math.max(logicalBlockSize(fd, path), 512) : 4096) : 0;
      return new FileIo(fd, path, size, block);
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
    if (this.directBlock) return this.readDirect(offset, length);
    const buf = Buffer.allocUnsafe(length);
    preadFull(this.fd, buf, offset, this.name);
    return buf;
  }

  write(offset: Bytes, data: Buffer): void {
    checkRange(this, 'pwrite', offset, data.length);
    if (this.directBlock) return this.writeDirect(offset, data);
    pwriteFull(this.fd, data, offset, this.name);
  }

  /** The aligned blocks around [offset, offset+length). */
  private alignedAround(offset: number, length: number): { start: Bytes; size: number } {
    const b = this.directBlock;
    const start = offset - (offset % b);
    const end = offset + length + ((b - ((offset + length) % b)) % b);
    return { start: bytes(start), size: end - start };
  }

  /** Reads the aligned blocks around the range, returns the range. */
  private readDirect(offset: Bytes, length: Bytes): Buffer {
    const { start, size } = this.alignedAround(offset, length);
    const bounce = allocAligned(size);
    try {
      preadFull(this.fd, bounce.buffer, start, this.name);
      return Buffer.from(bounce.buffer.subarray(offset - start, offset - start + length));
    } finally {
      bounce.free();
    }
  }

  /** Writes whole blocks; a partial block is read, patched and written back. */
  private writeDirect(offset: Bytes, data: Buffer): void {
    const { start, size } = this.alignedAround(offset, data.length);
    const bounce = allocAligned(size);
    try {
      if (start !== offset || size !== data.length) preadFull(this.fd, bounce.buffer, start, this.name);
      data.copy(bounce.buffer, offset - start);
      pwriteFull(this.fd, bounce.buffer, start, this.name);
    } finally {
      bounce.free();
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
