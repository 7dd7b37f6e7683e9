import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapFile } from '../../src/fiemap/map-file.js';
import { blockDeviceInfo } from '../../src/linux/blockdev.js';
import { formatDeviceNumber, fromDevT } from '../../src/linux/device-number.js';
import { createStore } from '../../src/store/create.js';
import { deleteStore } from '../../src/store/delete.js';
import { readManifest } from '../../src/store/manifest.js';
import { StateDir } from '../../src/state/state-dir.js';
import { checkSignatures, writeSignatures } from '../../src/store/proof.js';
import { proofSample } from '../../src/store/proof-sample.js';
import { openRawStore } from '../../src/store/raw-device.js';
import { verifyStore } from '../../src/store/verify.js';
import { bytes, chunkSize, parseSize } from '../../src/units/units.js';
import { snapstore } from './cli.js';
import { filefragExtents, tableFromFilefrag } from './filefrag.js';
import type { LoopFs } from './loopfs.js';
import { fragmentFreeSpace, freeBytes, listTree, makeLoopFs } from './loopfs.js';
import { EXIT } from '../../src/cli/exit-codes.js';

const chunk4k = chunkSize(bytes(4096));

describe.each(['ext4', 'xfs'] as const)('store on %s', (type) => {
  let lfs: LoopFs;
  let stateDir: string;

  beforeAll(async () => {
    // ext4 needs the inode count raised, or inodes run out before space does.
    // xfs: no reflink/rmap btrees, whose per-group reservations hide free space.
    lfs = await makeLoopFs(type, type === 'xfs' ? 320 : 96, type === 'xfs' ? ['-m', 'reflink=0,rmapbt=0'] : []);
    await fragmentFreeSpace(lfs.mountpoint);
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-state-'));
  });
  afterAll(async () => {
    await lfs?.cleanup();
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it('maps a fragmented file exactly as filefrag sees it', async () => {
    const file = path.join(lfs.storeDir, 'fragmented');
    await execa('fallocate', ['-l', '12M', file]);
    const want = tableFromFilefrag(await filefragExtents(file), formatDeviceNumber(mapFile(file, chunk4k).device), 8);
    expect(want.length).toBeGreaterThan(100);
    const r = await snapstore(['map', file]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n')).toEqual(want);
    expect(r.stderr).toMatch(/warning: .* mounted .*EBUSY/);
    const j = await snapstore(['map', file, '--json']);
    const parsed = JSON.parse(j.stdout);
    expect(parsed.segments).toHaveLength(want.length);
    expect(parsed.usableBytes).toBe(12 * 1024 * 1024);
    // Kept: xfs frees an unlinked file's blocks in the background, and the
    // next test wants the free space still in 4 KiB pieces.
  });

  it('creates, proves, pins, verifies and deletes a store', async () => {
    const file = path.join(lfs.storeDir, 'store1');
    const r = await snapstore(['store', 'create', 's1', '--store', file, '--size', '12M', '--full-proof', '--state-dir', stateDir, '--json']);
    expect(r.stderr).toContain('read back every signature');
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.segments).toBeGreaterThan(50);
    expect((fs.statSync(file).mode & 0o777).toString(8)).toBe('600');
    expect((await execa('lsattr', ['-d', file])).stdout).toMatch(/^\S*i\S*\s/);
    const m = readManifest(StateDir.need(stateDir), 's1');
    expect(m.device.fsUuid).toMatch(/[0-9a-f-]{36}/);
    expect(m.segments.length).toBe(out.segments);
    // The header chunks were zeroed on the raw device, the rest carries signatures.
    const raw = openRawStore(lfs.device!, m.segments, false);
    try {
      expect(raw.store.read(bytes(0), bytes(8192)).every((b) => b === 0)).toBe(true);
      expect(raw.store.read(m.segments[3]!.storeOffset, bytes(16)).toString()).toBe('SNAPSTORE-PROOF\n');
    } finally {
      raw.close();
    }
    // Read through the filesystem the file says the same (no page cached from before the raw writes).
    expect(fs.readFileSync(file).subarray(0, 8192).every((b) => b === 0)).toBe(true);
    expect(fs.statSync(path.join(stateDir, 'stores', 's1.json')).mode & 0o777).toBe(0o600);
    const list = JSON.parse((await snapstore(['store', 'list', '--state-dir', stateDir, '--json'])).stdout).stores;
    expect(list).toContainEqual(expect.objectContaining({ name: 's1', file, segments: out.segments, users: [] }));
    const v = await snapstore(['store', 'verify', 's1', '--state-dir', stateDir]);
    expect(v.exitCode).toBe(0);
    expect(v.stdout).toContain('matches its manifest');
    // The immutable flag keeps the file in place.
    expect(() => fs.unlinkSync(file)).toThrow(/EPERM/);
    const d = await snapstore(['store', 'delete', 's1', '--state-dir', stateDir]);
    expect(d.exitCode).toBe(0);
    expect(fs.existsSync(file)).toBe(false);
    expect(fs.existsSync(path.join(stateDir, 'stores', 's1.json'))).toBe(false);
  });

  it('verify reports a store that lost its flag or was replaced', async () => {
    const file = path.join(lfs.storeDir, 'store2');
    await createStore({ name: 's2', file, size: parseSize('4M'), chunk: chunk4k, stateDir });
    await execa('chattr', ['-i', file]);
    let v = await verifyStore({ stateDir, name: 's2' });
    expect(v.ok).toBe(false);
    expect(v.problems.join('\n')).toMatch(/no longer immutable/);
    fs.unlinkSync(file);
    fs.writeFileSync(file, Buffer.alloc(4 << 20));
    v = await verifyStore({ stateDir, name: 's2' });
    expect(v.problems.join('\n')).toMatch(/it is another file/);
    const cli = await snapstore(['store', 'verify', 's2', '--state-dir', stateDir]);
    expect(cli.exitCode).toBe(EXIT.refused);
    expect(cli.stderr).toMatch(/does not match its manifest/);
    // delete refuses to remove a file that is not ours
    await expect(deleteStore({ stateDir, name: 's2' })).rejects.toThrow(/it is another file; it is not our file/);
    fs.unlinkSync(file);
    await deleteStore({ stateDir, name: 's2' });
  });

  it('the proof fails when the map is wrong', async () => {
    const file = path.join(lfs.storeDir, 'store3');
    const m = await createStore({ name: 's3', file, size: parseSize('4M'), chunk: chunk4k, stateDir });
    await execa('chattr', ['-i', file]);
    const fd = fs.openSync(file, 'r+');
    try {
      const nonce = await writeSignatures(fd, file, m.segments);
      const shifted = m.segments.map((s) => ({ ...s, physical: bytes(s.physical + 4096) }));
      const raw = openRawStore(lfs.device!, shifted, false);
      try {
        expect(() => checkSignatures(raw, nonce, shifted, file)).toThrow(/the map of .* is wrong: segment 0/);
        expect(() => checkSignatures(raw, nonce, m.segments, file)).not.toThrow();
      } finally {
        raw.close();
      }
    } finally {
      fs.closeSync(fd);
    }
    await execa('chattr', ['+i', file]);
    await deleteStore({ stateDir, name: 's3' });
  });

  it('a sampled proof catches a map that is wrong in one region of the device', async () => {
    const file = path.join(lfs.storeDir, 'store-sampled');
    const m = await createStore({ name: 's-sampled', file, size: parseSize('8M'), chunk: chunk4k, stateDir });
    expect(m.segments.length).toBeGreaterThan(200);
    expect(m.provedSegments).toBe(m.segments.length <= 512 ? m.segments.length : 512);
    await execa('chattr', ['-i', file]);
    const fd = fs.openSync(file, 'r+');
    try {
      // The upper half of the device (by offset) translated wrong, as a remapping layer or a bug could.
      const byDevice = [...m.segments].sort((a, b) => a.physical - b.physical);
      const cut = byDevice[byDevice.length >> 1]!.physical;
      const wrong = m.segments.map((seg) => (seg.physical >= cut ? { ...seg, physical: bytes(seg.physical + 4096) } : seg));
      const sample = proofSample(wrong, 64);
      expect(sample.length).toBe(64);
      const nonce = await writeSignatures(fd, file, sample);
      const raw = openRawStore(lfs.device!, wrong, false);
      try {
        expect(() => checkSignatures(raw, nonce, sample, file)).toThrow(/the map of .* is wrong/);
      } finally {
        raw.close();
      }
      const right = proofSample(m.segments, 64);
      const nonce2 = await writeSignatures(fd, file, right);
      const raw2 = openRawStore(lfs.device!, m.segments, false);
      try {
        expect(() => checkSignatures(raw2, nonce2, right, file)).not.toThrow();
      } finally {
        raw2.close();
      }
    } finally {
      fs.closeSync(fd);
    }
    await execa('chattr', ['+i', file]);
    await deleteStore({ stateDir, name: 's-sampled' });
  });

  it('--zero writes zeros over the whole store (no unwritten extents left)', async () => {
    const file = path.join(lfs.storeDir, 'zeroed');
    const r = await snapstore(['store', 'create', 'z', '--store', file, '--size', '2M', '--zero', '--state-dir', stateDir]);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain('writing zeros');
    expect((await execa('filefrag', ['-v', file])).stdout).not.toMatch(/unwritten/);
    const m = readManifest(StateDir.need(stateDir), 'z');
    const raw = openRawStore(lfs.device!, m.segments, false);
    try {
      // Everything but the proof's signatures (the first 512 bytes of each segment) is zero.
      const all = raw.store.read(bytes(0), m.usableBytes);
      for (const seg of m.segments) all.fill(0, seg.storeOffset, seg.storeOffset + 512);
      expect(all.every((b) => b === 0)).toBe(true);
    } finally {
      raw.close();
    }
    await deleteStore({ stateDir, name: 'z' });
  });

  it('a full filesystem is reported as ENOSPC and leaves nothing behind', async () => {
    const before = listTree(lfs.storeDir);
    const size = `${Math.ceil(freeBytes(lfs.mountpoint) / (1 << 20)) + 64}M`;
    const r = await snapstore(['store', 'create', 'full', '--store', path.join(lfs.storeDir, 'full'), '--size', size, '--state-dir', stateDir, '--json']);
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'ENOSPC', message: expect.stringMatching(/available, less than the .* store; nothing was created/) });
    expect(listTree(lfs.storeDir)).toEqual(before);
    expect(fs.existsSync(path.join(stateDir, 'stores', 'full.json'))).toBe(false);
  });

  it('never takes the blocks ext4 reserves for root', async () => {
    if (type !== 'ext4') return;
    const st = fs.statfsSync(lfs.mountpoint);
    const reserved = (st.bfree - st.bavail) * st.bsize;
    expect(reserved).toBeGreaterThan(1 << 20);
    // More than is available to users, less than is free counting the reserve.
    const size = `${Math.floor((st.bavail * st.bsize + reserved / 2) / 65536) * 64}K`;
    const before = listTree(lfs.storeDir);
    const r = await snapstore(['store', 'create', 'res', '--store', path.join(lfs.storeDir, 'res'), '--size', size, '--state-dir', stateDir]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/available, less than the .* store; nothing was created/);
    expect(listTree(lfs.storeDir)).toEqual(before);
  });

  it('a failure after allocation removes the half-made store', async () => {
    const before = listTree(lfs.storeDir);
    // 3 chunks of 1 MiB cannot be aligned on a fragmented filesystem.
    const r = await snapstore(['store', 'create', 'big', '--store', path.join(lfs.storeDir, 'big'), '--size', '3M', '--chunk-size', '1M', '--state-dir', stateDir]);
    expect(r.exitCode).toBe(EXIT.refused);
    expect(r.stderr).toMatch(/chunk-aligned.*nothing was left behind/);
    expect(listTree(lfs.storeDir)).toEqual(before);
  });

  it('refuses an existing path and a symlink, changing nothing', async () => {
    const existing = path.join(lfs.storeDir, 'existing');
    fs.writeFileSync(existing, 'keep me');
    const link = path.join(lfs.storeDir, 'link');
    fs.symlinkSync(existing, link);
    for (const [p, why] of [[existing, /already exists/], [link, /symbolic link/]] as const) {
      const r = await snapstore(['store', 'create', 'x', '--store', p, '--size', '4M', '--state-dir', stateDir]);
      expect(r.exitCode).toBe(EXIT.refused);
      expect(r.stderr).toMatch(why);
    }
    expect(fs.readFileSync(existing, 'utf8')).toBe('keep me');
    expect(fs.readlinkSync(link)).toBe(existing);
    fs.unlinkSync(link);
    fs.unlinkSync(existing);
  });

  it('refuses a parent directory others can write', async () => {
    const dir = path.join(lfs.mountpoint, 'open');
    fs.mkdirSync(dir);
    fs.chmodSync(dir, 0o777);
    const r = await snapstore(['store', 'create', 'x', '--store', path.join(dir, 's'), '--size', '4M', '--state-dir', stateDir]);
    expect(r.exitCode).toBe(EXIT.refused);
    expect(r.stderr).toMatch(/writable by .*chmod go-w/s);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('map refuses a sparse file, naming the hole', async () => {
    const file = path.join(lfs.storeDir, 'sparse');
    const fd = fs.openSync(file, 'w');
    fs.writeSync(fd, Buffer.alloc(4096, 1), 0, 4096, 0);
    fs.writeSync(fd, Buffer.alloc(4096, 1), 0, 4096, 1 << 20);
    fs.closeSync(fd);
    const r = await snapstore(['map', file]);
    expect(r.exitCode).toBe(EXIT.refused);
    expect(r.stderr).toMatch(/hole at file offset 4096/);
    expect(r.stdout).toBe('');
    fs.unlinkSync(file);
  });

  it('names the device by something stable', () => {
    const info = blockDeviceInfo(fromDevT(fs.statSync(lfs.mountpoint, { bigint: true }).dev));
    expect(info.node).toBe(lfs.device);
  });
});

describe('refusals elsewhere', () => {
  let stateDir: string;
  beforeAll(() => {
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-state-'));
  });
  afterAll(() => fs.rmSync(stateDir, { recursive: true, force: true }));

  it('map refuses a reflinked file on xfs (SHARED)', async () => {
    const lfs = await makeLoopFs('xfs', 320, ['-m', 'reflink=1']);
    try {
      const a = path.join(lfs.storeDir, 'a');
      fs.writeFileSync(a, Buffer.alloc(1 << 20, 7));
      await execa('cp', ['--reflink=always', a, path.join(lfs.storeDir, 'b')]);
      const r = await snapstore(['map', path.join(lfs.storeDir, 'b')]);
      expect(r.exitCode).toBe(EXIT.refused);
      expect(r.stderr).toMatch(/is SHARED: its blocks are shared/);
    } finally {
      await lfs.cleanup();
    }
  });

  it.each(['btrfs', 'tmpfs'] as const)('store create refuses %s and leaves nothing behind', async (type) => {
    const lfs = await makeLoopFs(type, type === 'btrfs' ? 128 : 64);
    try {
      const r = await snapstore(['store', 'create', 'x', '--store', path.join(lfs.storeDir, 's'), '--size', '4M', '--state-dir', stateDir]);
      expect(r.exitCode).toBe(EXIT.refused);
      expect(r.stderr).toMatch(new RegExp(`is on ${type}: .*cannot be mapped raw`));
      expect(r.stderr).toMatch(/ext4 or xfs/);
      expect(fs.readdirSync(lfs.storeDir)).toEqual([]);
    } finally {
      await lfs.cleanup();
    }
  });

  it('map refuses a file too small to hold one aligned chunk', async () => {
    const lfs = await makeLoopFs('ext4', 32);
    try {
      const f = path.join(lfs.storeDir, 'tiny');
      fs.writeFileSync(f, 'abc');
      const r = await snapstore(['map', f]);
      expect(r.exitCode).toBe(EXIT.refused);
      expect(r.stderr).toMatch(/has no whole 4 KiB chunk aligned on its device/);
      expect(r.stdout).toBe('');
    } finally {
      await lfs.cleanup();
    }
  });

  it('refuses a bad size with a clear error, no stack trace, and exit code 2', async () => {
    const plain = /way out: sizes are whole bytes/;
    for (const [size, why, wayOut] of [
      ['1.5', /not a whole number of bytes/, plain],
      ['5MB', /ambiguous/, plain],
      ['-5M', /--size "-5M" starts with "-": a size is never negative/, /way out: write 5M alone, or a range such as 1G-5M/],
      ['150%', /--size "150%" is more than 100% of the filesystem/, /way out: .*150%USED/],
    ] as const) {
      const r = await snapstore(['store', 'create', 'x', '--store', '/tmp/nope', '--size', size, '--state-dir', stateDir]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(why);
      expect(r.stderr).toMatch(wayOut);
      expect(r.stderr).not.toMatch(/^\s+at /m); // no stack frame
    }
  });

  it('a usage error exits 2, as JSON with --json', async () => {
    const r = await snapstore(['store', 'create', 'x']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/required option/);
    const j = await snapstore(['store', 'create', 'x', '--json']);
    expect(j.exitCode).toBe(2);
    expect(JSON.parse(j.stdout).error).toMatchObject({ code: 'USAGE', message: expect.stringMatching(/required option/) });
  });

  it('--version answers without loading the CLI', async () => {
    const r = await snapstore(['--version']);
    expect(r.stdout.trim()).toBe(JSON.parse(fs.readFileSync('package.json', 'utf8')).version);
  });
});
