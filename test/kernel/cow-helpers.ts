// Shared by the cow kernel guest files (cow-merge.guest.ts, cow-lvm.guest.ts) and the merge
// benchmark in the VM (bench/merge/kernel.guest.ts): whole-device hashing and copying, direct
// writes through dd, and waiting for the kernel's snapshot-merge to finish.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, writeSync, fsyncSync } from 'node:fs';
import { run } from '../vm/guest.js';
import { parseSnapshotStatus } from '../../src/dm/status.js';

const PIECE = 8 << 20;

/** Size of a file or block device. */
export function sizeOf(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    return st.isBlockDevice() ? Number(run('blockdev', ['--getsize64', path]).trim()) : st.size;
  } finally {
    closeSync(fd);
  }
}

/** sha256 of the first `length` bytes (default: all) of a file or device. */
export function shaOf(path: string, length = sizeOf(path)): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(PIECE);
  try {
    for (let at = 0; at < length; ) {
      const n = readSync(fd, buf, 0, Math.min(PIECE, length - at), at);
      if (n === 0) throw new Error(`short read of ${path} at byte ${at}`);
      h.update(buf.subarray(0, n));
      at += n;
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** Copies `length` bytes from the start of `from` to the start of `to` (created if missing), then fsyncs. */
export function copyDevice(from: string, to: string, length = sizeOf(from)): void {
  const src = openSync(from, 'r');
  const dst = openSync(to, 'w');
  const buf = Buffer.alloc(PIECE);
  try {
    for (let at = 0; at < length; ) {
      const n = readSync(src, buf, 0, Math.min(PIECE, length - at), at);
      if (n === 0) throw new Error(`short read of ${from} at byte ${at}`);
      for (let done = 0; done < n; ) done += writeSync(dst, buf, done, n - done, at + done);
      at += n;
    }
    fsyncSync(dst);
  } finally {
    closeSync(src);
    closeSync(dst);
  }
}

/** Writes `data` at byte `offset` of a device with O_DIRECT, as one I/O (dd; no page cache). */
export function directWrite(path: string, offset: number, data: Buffer): void {
  run('dd', [`of=${path}`, `bs=${data.length}`, 'count=1', `seek=${offset}`, 'oflag=direct,seek_bytes', 'iflag=fullblock', 'conv=notrunc', 'status=none'], data);
}

/** Zeroes the first `length` bytes of a device (a new store needs chunks 0 and 1 zeroed). */
export function zeroStart(path: string, length: number): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Buffer.alloc(length), 0, length, 0);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function snapshotUsage(name: string): { allocated: number; metadata: number } {
  const line = run('dmsetup', ['status', name]).trim();
  const status = parseSnapshotStatus(line.split(/ snapshot(?:-merge)? /)[1] ?? line);
  if (status.state !== 'active') throw new Error(`${name}: snapshot status is ${status.state} (${line})`);
  return { allocated: Number(status.allocated), metadata: Number(status.metadata) };
}

/** Polls a snapshot-merge device until its status reads allocated == metadata (the kernel's "done"). */
export async function waitMergeDone(name: string, timeoutMs = 300_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const u = snapshotUsage(name);
    if (u.allocated === u.metadata) return;
    if (Date.now() > until) throw new Error(`${name}: merge not done after ${timeoutMs} ms (${u.allocated}/${u.metadata})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A small seeded generator (mulberry32): offsets and lengths repeat from run to run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
