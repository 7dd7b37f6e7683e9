// `merge --offline --store NAME`: our store read raw through its map on the
// device its manifest names, and the refusal of exceptions inside its extents.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CowWriter } from '../../src/cow/writer.js';
import { createStore } from '../../src/store/create.js';
import type { StoreManifest } from '../../src/store/manifest.js';
import { openManifestStore } from '../../src/store/raw-device.js';
import { bytes, chunks, chunkSize, parseSize } from '../../src/units/units.js';
import { snapstore } from './cli.js';
import type { LoopFs } from './loopfs.js';
import { makeLoopFs } from './loopfs.js';
import { EXIT } from '../../src/cli/exit-codes.js';

const chunk = chunkSize(bytes(4096));
const fill = (seed: number) => Buffer.alloc(4096, seed);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('merge --offline --store', () => {
  let lfs: LoopFs;
  let stateDir: string;
  let m: StoreManifest;
  let origin: string;

  beforeAll(async () => {
    lfs = await makeLoopFs('ext4', 64);
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-state-'));
    m = await createStore({ name: 'm', file: path.join(lfs.storeDir, 'm'), size: parseSize('8M'), chunk, stateDir });
    origin = path.join(stateDir, 'origin.img');
    fs.writeFileSync(origin, Buffer.alloc(4 << 20, 0x11));
  });
  afterAll(async () => {
    await lfs?.cleanup();
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  async function writeExceptions(olds: number[]): Promise<void> {
    const raw = await openManifestStore(m, true);
    try {
      const w = CowWriter.create(raw.store, chunk);
      for (const old of olds) w.append(chunks(old), fill(old));
      w.commit();
    } finally {
      raw.close();
    }
  }

  it('merges the exceptions written into the store on the raw device', async () => {
    await writeExceptions([1, 5, 100]);
    const r = await snapstore(['merge', '--offline', '--origin', origin, '--store', 'm', '--state-dir', stateDir, '--verify']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/merged 3 chunks .*verified/);
    const after = fs.readFileSync(origin);
    for (const old of [1, 5, 100]) expect(after.subarray(old * 4096, (old + 1) * 4096).equals(fill(old))).toBe(true);
    expect(after.subarray(2 * 4096, 3 * 4096).equals(Buffer.alloc(4096, 0x11))).toBe(true);
    const again = await snapstore(['merge', '--offline', '--origin', origin, '--store', 'm', '--state-dir', stateDir]);
    expect(again.stdout).toMatch(/already merged/);
  });

  it('refuses an origin that is mounted (or a dry run of it), changing nothing', async () => {
    for (const extra of [[], ['--dry-run']]) {
      const r = await snapstore(['merge', '--offline', '--origin', lfs.device!, '--store', 'm', '--state-dir', stateDir, ...extra]);
      expect(r.exitCode).toBe(EXIT.busy);
      expect(r.stderr).toMatch(/origin \/dev\/loop\d+ is in use: a filesystem is mounted on it.*EBUSY/);
    }
  });

  it('refuses an exception whose origin chunk is inside the store itself, writing nothing', async () => {
    // The origin is the store's own filesystem device (unmounted now, as for
    // an offline merge); this chunk belongs to the store.
    const inside = m.segments[0]!.physical / 4096 + 10;
    await writeExceptions([3, inside]);
    await execa('umount', [lfs.mountpoint]);
    const readChunk = (n: number) => {
      const fd = fs.openSync(lfs.device!, 'r');
      const b = Buffer.alloc(4096);
      fs.readSync(fd, b, 0, 4096, n * 4096);
      fs.closeSync(fd);
      return sha(b);
    };
    const before = [readChunk(3), readChunk(inside)];
    const r = await snapstore(['merge', '--offline', '--origin', lfs.device!, '--store', 'm', '--state-dir', stateDir]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`old_chunk ${inside} .*inside the store's own extent.*would overwrite store data`));
    expect([readChunk(3), readChunk(inside)]).toEqual(before);
  });

  it('refuses when the store\'s device cannot be found', async () => {
    const file = path.join(stateDir, 'stores', 'm.json');
    const saved = fs.readFileSync(file, 'utf8');
    const j = JSON.parse(saved);
    j.device = { ...j.device, fsUuid: '00000000-0000-4000-8000-000000000000' };
    // The manifest's checksum covers the map, not the device: this is a valid manifest of a missing device.
    fs.writeFileSync(file, JSON.stringify(j));
    try {
      const r = await snapstore(['merge', '--offline', '--origin', origin, '--store', 'm', '--state-dir', stateDir]);
      expect(r.exitCode).toBe(EXIT.notFound);
      expect(r.stderr).toMatch(/is not present \(last seen as loop/);
    } finally {
      fs.writeFileSync(file, saved);
    }
  });
});
