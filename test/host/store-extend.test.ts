// The store layer's half of `extend` on real ext4 and xfs (loop devices): the
// file grown, the old map kept, the new part proved and recorded as a new
// generation that `store verify` accepts; what `admit` leaves out stays in
// the file but out of the map; a crashed extension is cut back. And the free
// space read from a filesystem's own metadata, checked against the
// superblock's count and against the blocks files really hold (FIEMAP).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapFile } from '../../src/fiemap/map-file.js';
import { withStateLock } from '../../src/state/lock.js';
import { StateDir } from '../../src/state/state-dir.js';
import { createStore } from '../../src/store/create.js';
import { extendStoreLocked, settleExtension } from '../../src/store/extend.js';
import { isFree, readFreeSpace } from '../../src/store/free-space.js';
import { readManifest } from '../../src/store/manifest.js';
import { verifyStore } from '../../src/store/verify.js';
import { writeIntent } from '../../src/state/intent.js';
import { bytes, chunkSize } from '../../src/units/units.js';
import { makeLoopFs, type LoopFs } from './loopfs.js';

const MiB = 1 << 20;
const chunk = chunkSize(bytes(4096));

describe.each(['ext4', 'xfs'] as const)('%s', (type) => {
  let lfs: LoopFs;
  let stateDir: string;
  beforeAll(async () => {
    lfs = await makeLoopFs(type, 320);
    stateDir = path.join(path.dirname(lfs.mountpoint), 'state');
  });
  afterAll(() => lfs.cleanup());

  it('grows a store: the old segments kept, the new ones proved and recorded as generation 1; store verify agrees', async () => {
    const file = path.join(lfs.storeDir, 'g.store');
    const m0 = await createStore({ name: 'g', file, size: bytes(8 * MiB), chunk, stateDir });
    const r = await withStateLock(StateDir.need(stateDir), (lock) => extendStoreLocked(lock, { name: 'g', add: bytes(16 * MiB), keepFree: bytes(MiB) }));
    expect(r.manifest.mapGeneration).toBe(1);
    expect(r.manifest.fileSize).toBe(24 * MiB);
    expect(r.manifest.segments.slice(0, m0.segments.length)).toEqual(m0.segments);
    expect(r.addedBytes + r.heldBackBytes + (r.manifest.droppedBytes - m0.droppedBytes)).toBe(16 * MiB);
    expect(readManifest(StateDir.need(stateDir), 'g')).toEqual(r.manifest);
    const v = await verifyStore({ stateDir, name: 'g' });
    expect(v.problems).toEqual([]);
  });

  it('what admit leaves out stays allocated to the file but out of its map', async () => {
    const file = path.join(lfs.storeDir, 'h.store');
    await createStore({ name: 'h', file, size: bytes(8 * MiB), chunk, stateDir });
    const r = await withStateLock(StateDir.need(stateDir), (lock) =>
      extendStoreLocked(lock, { name: 'h', add: bytes(8 * MiB), keepFree: bytes(MiB), admit: (segs) => segs.map((s) => ({ ...s, length: bytes(s.length > 4096 ? s.length - 4096 : s.length) })).filter((s) => s.length > 0) }),
    );
    expect(r.heldBackBytes).toBeGreaterThan(0);
    expect(r.manifest.usableBytes + r.manifest.droppedBytes).toBe(r.manifest.fileSize);
    expect((await verifyStore({ stateDir, name: 'h' })).problems).toEqual([]);
  });

  it('refuses to eat into --keep-free, and changes nothing', async () => {
    const before = readManifest(StateDir.need(stateDir), 'g');
    const e = await withStateLock(StateDir.need(stateDir), (lock) => extendStoreLocked(lock, { name: 'g', add: bytes(64 * MiB), keepFree: bytes(512 * MiB) })).catch((err: unknown) => err);
    expect((e as Error).message).toMatch(/kept free/);
    expect(readManifest(StateDir.need(stateDir), 'g')).toEqual(before);
    expect(fs.statSync(before.file).size).toBe(before.fileSize);
    expect(fs.readdirSync(path.join(stateDir, 'stores')).filter((f) => f.includes('extending'))).toEqual([]);
  });

  it('a crash after the file grew leaves a record; settleExtension cuts the file back to its manifest', async () => {
    const dir = StateDir.need(stateDir);
    const m = readManifest(dir, 'g');
    await withStateLock(dir, async (lock) => {
      writeIntent(lock, lock.dir.ensureFolder('stores'), 'g', 'extending', { fileSize: m.fileSize });
      await execa('chattr', ['-i', m.file]);
      await execa('fallocate', ['-o', String(m.fileSize), '-l', String(4 * MiB), m.file]);
      await execa('chattr', ['+i', m.file]);
      expect(settleExtension(lock, 'g')).toMatch(/cut back/);
      expect(settleExtension(lock, 'g')).toBeUndefined();
    });
    expect(fs.statSync(m.file).size).toBe(m.fileSize);
    expect((await verifyStore({ stateDir, name: 'g' })).problems).toEqual([]);
  });

  it("reads the free space from the filesystem's metadata: no block of a file in it, its total the superblock's", async () => {
    const files = ['a', 'b', 'c'].map((n) => path.join(lfs.mountpoint, n));
    for (const f of files) fs.writeFileSync(f, Buffer.alloc(3 * MiB + 12345, 7));
    fs.rmSync(files[1]!);
    await execa('sync');
    const maps = [files[0]!, files[2]!, path.join(lfs.storeDir, 'g.store')].map((f) => mapFile(f, chunk));
    await execa('umount', [lfs.mountpoint]);
    try {
      const free = await readFreeSpace(lfs.device!, type);
      for (const m of maps) {
        for (let i = 0; i < m.extents.count; i++) {
          const start = m.extents.physical[i]!;
          const len = m.extents.length[i]!;
          for (let at = 0; at < len; at += 4096) expect(isFree(free, start + at, start + at + 4096), `${m.path} block at ${start + at}`).toBe(false);
        }
      }
      const sbFree =
        type === 'ext4'
          ? Number(/^Free blocks:\s+(\d+)$/m.exec((await execa('dumpe2fs', ['-h', lfs.device!])).stdout)![1]) * 4096
          : await xfsFreeBytes(lfs.device!);
      expect(free.bytes).toBe(sbFree);
    } finally {
      await execa('mount', [lfs.device!, lfs.mountpoint]);
    }
  });
});

/** xfs: free blocks and free-list blocks summed over the allocation groups' headers (AGF freeblks + flcount). */
async function xfsFreeBytes(dev: string): Promise<number> {
  const geo = (await execa('xfs_db', ['-r', '-c', 'sb 0', '-c', 'p agcount blocksize', dev])).stdout;
  const agcount = Number(/agcount = (\d+)/.exec(geo)![1]);
  const bs = Number(/blocksize = (\d+)/.exec(geo)![1]);
  let total = 0;
  for (let ag = 0; ag < agcount; ag++) {
    const agf = (await execa('xfs_db', ['-r', '-c', `agf ${ag}`, '-c', 'p freeblks flcount', dev])).stdout;
    total += Number(/freeblks = (\d+)/.exec(agf)![1]) + Number(/flcount = (\d+)/.exec(agf)![1]);
  }
  return total * bs;
}
