// Guest side of the merge benchmark in the VM (started by bench/merge/kernel-bench.ts):
// a 256 MiB origin of random data and a store of 16,384 scattered 4 KiB exceptions (64 MiB),
// in random table order, written by our CowWriter the way the kernel allocates (the kernel
// reads it back: its status must show every exception). The same origin and store are copied
// to a second pair of disks; the kernel's snapshot-merge runs on the first pair (timed from
// create until status reads allocated == metadata), our offline merge on the second (timed
// in-process); page caches are dropped before each. The two origins must end identical.
// For scale: dd of 64 MiB, sequential 1 MiB and 4 KiB direct writes.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { afterAll, expect, test } from 'vitest';
import { guestDisk, requireGuest, resultsDir, run } from '../../test/vm/guest.js';
import { copyDevice, seeded, shaOf, snapshotUsage, waitMergeDone } from '../../test/kernel/cow-helpers.js';
import { FileIo } from '../../src/blockio/file-io.js';
import { type BlockIo, MemoryIo } from '../../src/blockio/index.js';
import { CowWriter } from '../../src/cow/writer.js';
import { mergeOffline } from '../../src/cow/merge.js';
import { type Bytes, bytes, chunkSize, chunks } from '../../src/units/units.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';
const MiB = 1 << 20;
const ORIGIN = 256 * MiB;
const EXCEPTIONS = 16_384;
const CHUNK = 4096;
const rows: Record<string, unknown>[] = [];
const made: string[] = [];

afterAll(() => {
  writeFileSync(`${resultsDir}/merge-kernel-bench.json`, JSON.stringify(rows, null, 2));
  for (const name of made) execFileSync('dmsetup', ['remove', '-f', name], { stdio: 'ignore' });
});

const dropCaches = (): void => {
  run('sync');
  writeFileSync('/proc/sys/vm/drop_caches', '3');
};
const seconds = (ms: number): number => Math.round(ms) / 1000;

/** Where our merge spends its time: milliseconds inside read, write and flush of one BlockIo. */
class TimedIo implements BlockIo {
  ms = { read: 0, write: 0, flush: 0 };
  constructor(private readonly inner: BlockIo) {}
  get name(): string {
    return this.inner.name;
  }
  get size(): Bytes {
    return this.inner.size;
  }
  private timed<T>(op: 'read' | 'write' | 'flush', f: () => T): T {
    const t = performance.now();
    try {
      return f();
    } finally {
      this.ms[op] += performance.now() - t;
    }
  }
  read(offset: Bytes, length: Bytes): Buffer {
    return this.timed('read', () => this.inner.read(offset, length));
  }
  write(offset: Bytes, data: Buffer): void {
    this.timed('write', () => this.inner.write(offset, data));
  }
  flush(): void {
    this.timed('flush', () => this.inner.flush());
  }
  close(): void {
    this.inner.close();
  }
}

test('kernel snapshot-merge vs our offline merge of an identical copy', async () => {
  const kOrigin = guestDisk('k-origin');
  const kCow = guestDisk('k-cow');
  const oOrigin = guestDisk('o-origin');
  const oCow = guestDisk('o-cow');
  const cOrigin = guestDisk('c-origin');
  const cCow = guestDisk('c-cow');
  // A fourth copy for the breakdown of our time: timing every read and write
  // costs time itself under emulation, so the ratio comes from an untimed run.
  const tOrigin = guestDisk('t-origin');
  const tCow = guestDisk('t-cow');
  const loop = process.env.MERGE_LOOP ?? '';

  // Origin: random data.
  const fd = openSync(kOrigin, 'r+');
  for (let at = 0; at < ORIGIN; at += 8 * MiB) writeSync(fd, randomBytes(8 * MiB), 0, 8 * MiB, at);
  closeSync(fd);

  // Store: 16,384 distinct origin chunks out of 65,536, in random order.
  const rand = seeded(4242);
  const all = Array.from({ length: ORIGIN / CHUNK }, (_, i) => i);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  const olds = all.slice(0, EXCEPTIONS);
  const cowBytes = 80 * MiB;
  const mem = MemoryIo.zeroed(bytes(cowBytes), 'store');
  const writer = CowWriter.create(mem, chunkSize(bytes(CHUNK)));
  const data = randomBytes(EXCEPTIONS * CHUNK);
  olds.forEach((old, i) => writer.append(chunks(old), data.subarray(i * CHUNK, (i + 1) * CHUNK)));
  writer.commit();
  const cfd = openSync(kCow, 'r+');
  writeSync(cfd, mem.data, 0, cowBytes, 0);
  closeSync(cfd);

  copyDevice(kOrigin, oOrigin, ORIGIN);
  copyDevice(kCow, oCow, cowBytes);
  copyDevice(kOrigin, cOrigin, ORIGIN);
  copyDevice(kCow, cCow, cowBytes);
  copyDevice(kOrigin, tOrigin, ORIGIN);
  copyDevice(kCow, tCow, cowBytes);
  const before = shaOf(oOrigin, ORIGIN);
  expect(shaOf(kOrigin, ORIGIN)).toBe(before);

  // The kernel reads every exception of our store: a plain snapshot over it first (a merge
  // target starts consuming at once, so its status cannot be read before it moves).
  const sectors = ORIGIN / 512;
  run('dmsetup', ['create', 'bench-check', '--table', `0 ${sectors} snapshot ${kOrigin} ${kCow} P 8`]);
  made.push('bench-check');
  const atStart = snapshotUsage('bench-check');
  run('dmsetup', ['remove', 'bench-check']);
  made.pop();
  // metadata: header + 64 full areas + the (empty) area after them.
  expect((atStart.allocated - atStart.metadata) / 8).toBe(EXCEPTIONS);

  // The kernel's merge.
  dropCaches();
  let t = performance.now();
  run('dmsetup', ['create', 'bench-merge', '--table', `0 ${sectors} snapshot-merge ${kOrigin} ${kCow} P 8`]);
  made.push('bench-merge');
  await waitMergeDone('bench-merge', 800_000);
  const kernelMs = performance.now() - t;
  run('dmsetup', ['remove', 'bench-merge']);
  made.pop();

  // Ours, on the identical copy.
  dropCaches();
  const origin = FileIo.open(oOrigin, { writable: true });
  const store = FileIo.open(oCow, { writable: true });
  t = performance.now();
  let summary;
  try {
    summary = mergeOffline(origin, store);
  } finally {
    origin.close();
    store.close();
  }
  const oursMs = performance.now() - t;

  // The same again on the fourth copy, timing each read, write and flush.
  dropCaches();
  const tO = new TimedIo(FileIo.open(tOrigin, { writable: true }));
  const tS = new TimedIo(FileIo.open(tCow, { writable: true }));
  t = performance.now();
  try {
    mergeOffline(tO, tS);
  } finally {
    tO.close();
    tS.close();
  }
  const timedMs = performance.now() - t;
  expect(summary.chunks).toBe(EXCEPTIONS);
  const kernelSha = shaOf(kOrigin, ORIGIN);
  expect(shaOf(oOrigin, ORIGIN)).toBe(kernelSha);
  expect(kernelSha).not.toBe(before);

  // The C loop of bench/merge/merge-loop.c (pread/pwrite in table order, one fsync), compiled
  // by the host runner: the least work this I/O pattern needs, here under the same emulation.
  let loopMs = Number.NaN;
  if (loop) {
    dropCaches();
    t = performance.now();
    expect(run(loop, [cOrigin, cCow]).trim()).toBe(String(EXCEPTIONS));
    loopMs = performance.now() - t;
    expect(shaOf(cOrigin, ORIGIN)).toBe(kernelSha);
  }

  // dd for scale.
  const scratch = guestDisk('scratch');
  dropCaches();
  t = performance.now();
  run('dd', ['if=/dev/zero', `of=${scratch}`, 'bs=1M', 'count=64', 'oflag=direct', 'status=none']);
  const ddSeqMs = performance.now() - t;
  t = performance.now();
  run('dd', ['if=/dev/zero', `of=${scratch}`, 'bs=4k', 'count=16384', 'oflag=direct', 'status=none']);
  const dd4kMs = performance.now() - t;

  rows.push(
    { what: 'kernel snapshot-merge (create until allocated == metadata)', seconds: seconds(kernelMs), note: `${atStart.allocated}/${atStart.metadata} sectors at start` },
    {
      what: 'snapstore offline merge (in-process)',
      seconds: seconds(oursMs),
      note: `${summary.reads} reads, ${summary.writes} writes, ${summary.batches} batch(es); a timed rerun on a copy (${seconds(timedMs)} s) spent: origin write ${seconds(tO.ms.write)} s, origin flush ${seconds(tO.ms.flush)} s, store read ${seconds(tS.ms.read)} s, store write+flush ${seconds(tS.ms.write + tS.ms.flush)} s`,
    },
    { what: 'C loop: pread/pwrite in table order, one fsync (merge-loop.c)', seconds: seconds(loopMs), note: loop ? '' : 'not built' },
    { what: 'ratio kernel / ours', seconds: Math.round((kernelMs / oursMs) * 10) / 10, note: 'goal >= 10' },
    { what: 'dd 64 MiB, 1 MiB direct writes', seconds: seconds(ddSeqMs), note: '' },
    { what: 'dd 64 MiB, 4 KiB direct writes', seconds: seconds(dd4kMs), note: '' },
  );
  console.log(rows);
}, 900_000);
