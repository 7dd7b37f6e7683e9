// decodeManifest with a table of damaged manifests: each is refused as
// MANIFEST_INVALID naming what is wrong, never guessed at.
import { describe, expect, it } from 'vitest';
import { decodeManifest, mapChecksum, MANIFEST_VERSION } from '../../src/store/manifest.js';
import type { StoreSegment } from '../../src/fiemap/align.js';
import type { Bytes } from '../../src/units/units.js';

const segs: StoreSegment[] = [
  { storeOffset: 0 as Bytes, fileOffset: 0 as Bytes, physical: 1048576 as Bytes, length: 65536 as Bytes },
  { storeOffset: 65536 as Bytes, fileOffset: 65536 as Bytes, physical: 4194304 as Bytes, length: 32768 as Bytes },
];

function good(): Record<string, unknown> {
  return {
    version: MANIFEST_VERSION,
    kind: 'file',
    name: 's',
    file: '/data/.snapstore/s.store',
    inode: 12,
    generation: 3456,
    fileSize: 98304,
    usableBytes: 98304,
    droppedBytes: 0,
    chunkSize: 4096,
    filesystem: { type: 'ext4', blockSize: 4096 },
    device: { fsUuid: '0b5a0c1e-8d2b-4c2a-9a53-0d7a9c1f2e11', fsType: 'ext4', devNumber: '254:1', kernelName: 'dm-1', dmName: 'data' },
    segments: segs.map((s) => [s.storeOffset, s.fileOffset, s.physical, s.length]),
    mapSha256: mapChecksum(segs),
    createdAt: '2026-11-30T00:00:00.000Z',
  };
}

const text = (o: unknown): string => JSON.stringify(o);
const edit = (f: (m: Record<string, unknown>) => void): string => {
  const m = good();
  f(m);
  return text(m);
};

describe('decodeManifest', () => {
  it('reads a good manifest', () => {
    const m = decodeManifest('m.json', text(good()));
    expect(m.segments).toEqual(segs);
    expect(m.device.dmName).toBe('data');
  });

  const damaged: [string, string, RegExp][] = [
    ['not JSON', '{"version": 1,', /not JSON/],
    ['not an object', '[1,2]', /not a JSON object/],
    ['another version', edit((m) => (m['version'] = 2)), /version 2 is not 1/],
    ['another kind', edit((m) => (m['kind'] = 'lvm')), /kind "lvm"/],
    ['no name', edit((m) => delete m['name']), /field "name"/],
    ['a negative inode', edit((m) => (m['inode'] = -1)), /field "inode"/],
    ['a chunk size not a power of two', edit((m) => (m['chunkSize'] = 3000)), /chunkSize/],
    ['segments not an array', edit((m) => (m['segments'] = {})), /field "segments"/],
    ['a segment of three numbers', edit((m) => ((m['segments'] as unknown[][])[1] = [65536, 65536, 4194304])), /segment 1 is/],
    ['a gap between segments', edit((m) => ((m['segments'] as number[][])[1]![0] = 69632)), /segment 1 starts at store byte 69632, expected 65536/],
    ['an unaligned segment', edit((m) => ((m['segments'] as number[][])[0]![2] = 1048577)), /segment 0 is not aligned/],
    ['a map that does not match its checksum', edit((m) => ((m['segments'] as number[][])[0]![2] = 2097152)), /does not match its checksum/],
    ['usableBytes that disagree with the map', edit((m) => (m['usableBytes'] = 65536)), /segments cover 98304 bytes, usableBytes says 65536/],
    ['a hand-edited size', edit((m) => (m['fileSize'] = 4096)), /fileSize 4096 is less than/],
    ['a device with no stable identity', edit((m) => (m['device'] = { devNumber: '254:1', kernelName: 'dm-1' })), /no stable identity/],
    ['a device identity field of the wrong type', edit((m) => ((m['device'] as Record<string, unknown>)['fsUuid'] = 7)), /field "fsUuid"/],
    ['no devNumber', edit((m) => delete (m['device'] as Record<string, unknown>)['devNumber']), /field "devNumber"/],
  ];
  it.each(damaged)('refuses %s', (_what, t, why) => {
    expect(() => decodeManifest('m.json', t)).toThrow(expect.objectContaining({ code: 'MANIFEST_INVALID', message: expect.stringMatching(why) }));
  });
});
