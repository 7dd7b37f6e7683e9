// Guest side (host side: store.test.ts): `merge --offline --store` must refuse
// exceptions that land on the store's own blocks even when the origin reaches
// them under another name (a second linear dm device over the same disk, as
// D-real is), and must not refuse an origin on another disk (update mode).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CowWriter } from '../../src/cow/writer.js';
import { createStore } from '../../src/store/create.js';
import type { StoreManifest } from '../../src/store/manifest.js';
import { openManifestStore } from '../../src/store/raw-device.js';
import { bytes, chunks, chunkSize, parseSize } from '../../src/units/units.js';
import { guestDisk, requireGuest, run } from '../vm/guest.js';

requireGuest();

const chunk = chunkSize(bytes(4096));
const disk = guestDisk('merge');
const other = guestDisk('plain2');
const mnt = '/tmp/mnt-merge';
const stateDir = '/tmp/state-merge';
let m: StoreManifest;

async function writeExceptions(olds: number[]): Promise<void> {
  const raw = await openManifestStore(m, true);
  try {
    const w = CowWriter.create(raw.store, chunk);
    for (const old of olds) w.append(chunks(old), Buffer.alloc(4096, old % 251));
    w.commit();
  } finally {
    raw.close();
  }
}

const merge = (origin: string): { code: number; text: string } => {
  try {
    return { code: 0, text: run('node', ['bin/snapstore', 'merge', '--offline', '--origin', origin, '--store', 'ms', '--state-dir', stateDir]) };
  } catch (e) {
    return { code: 1, text: (e as Error).message };
  }
};

describe('merge --store and the store\'s own blocks', () => {
  beforeAll(async () => {
    const size = Number(run('blockdev', ['--getsz', disk]).trim());
    run('dmsetup', ['create', 'mdata', '--table', `0 ${size} linear ${disk} 0`]);
    run('mkfs.ext4', ['-q', '-F', '-b', '4096', '/dev/mapper/mdata']);
    fs.mkdirSync(mnt, { recursive: true });
    run('mount', ['/dev/mapper/mdata', mnt]);
    fs.mkdirSync(path.join(mnt, 'stores'), { mode: 0o700 });
    m = await createStore({ name: 'ms', file: path.join(mnt, 'stores', 'ms'), size: parseSize('8M'), chunk, stateDir });
  });
  afterAll(() => {
    run('sh', ['-c', `umount ${mnt} 2>/dev/null; dmsetup remove mdata-real 2>/dev/null; dmsetup remove mdata; true`]);
  });

  test('an origin that is the same disk under another dm name is refused where the store lives', async () => {
    const inside = m.segments[0]!.physical / 4096 + 4;
    await writeExceptions([3, inside]);
    run('umount', [mnt]);
    // Like D-real: another linear device over the same blocks.
    const size = Number(run('blockdev', ['--getsz', disk]).trim());
    run('dmsetup', ['create', 'mdata-real', '--table', `0 ${size} linear ${disk} 0`]);
    const before = run('sh', ['-c', `dd if=/dev/mapper/mdata-real bs=4096 skip=${inside} count=1 status=none | sha256sum`]);
    const r = merge('/dev/mapper/mdata-real');
    expect(r.code).toBe(1);
    expect(r.text).toMatch(new RegExp(`old_chunk ${inside} .*inside the store's own extent`));
    expect(run('sh', ['-c', `dd if=/dev/mapper/mdata-real bs=4096 skip=${inside} count=1 status=none | sha256sum`])).toBe(before);
    run('dmsetup', ['remove', 'mdata-real']);
  });

  test('an origin on another disk is merged (nothing of the store is there)', async () => {
    await writeExceptions([3, 7]);
    const r = merge(other);
    expect(r.text).toMatch(/merged 2 chunks/);
    const back = run('sh', ['-c', `dd if=${other} bs=4096 skip=7 count=1 status=none | od -An -tu1 | head -1`]);
    expect(back.trim().split(/\s+/)[0]).toBe('7');
  });
});
