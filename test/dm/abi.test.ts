import { describe, expect, it } from 'vitest';
import {
  align8,
  decodeDeps,
  decodeHeader,
  decodeNameList,
  decodeTargetSpecs,
  decodeTargetVersions,
  DM_IOCTL_SIZE,
  DmAbiError,
  DmCommand,
  DmFlag,
  encodeRequest,
  targetSpecsSize,
  writeTargetSpecs,
  type DmIoctlHeader,
} from '../../src/dm/abi.js';
import { decodeHugeDev, encodeHugeDev } from '../../src/dm/device-number.js';
import { deviceNumber } from '../../src/linux/device-number.js';
import { sectors } from '../../src/units/units.js';

describe('dm ioctl numbers and flags (dm-ioctl.h)', () => {
  it('encodes _IOWR(0xfd, nr, struct dm_ioctl) with the 312-byte struct', () => {
    // Values as strace prints them for dmsetup.
    expect(DmCommand.VERSION).toBe(0xc138fd00);
    expect(DmCommand.DEV_CREATE).toBe(0xc138fd03);
    expect(DmCommand.DEV_SUSPEND).toBe(0xc138fd06);
    expect(DmCommand.TABLE_LOAD).toBe(0xc138fd09);
    expect(DmCommand.TABLE_STATUS).toBe(0xc138fd0c);
    expect(DmCommand.LIST_VERSIONS).toBe(0xc138fd0d);
    expect(DmFlag.BUFFER_FULL).toBe(0x100);
    expect(DmFlag.SKIP_LOCKFS).toBe(0x400);
    expect(DmFlag.UUID).toBe(0x4000);
  });
});

describe('device numbers', () => {
  it('uses the kernel huge encoding for large minors', () => {
    expect(encodeHugeDev(deviceNumber(253, 0))).toBe(0xfd00n);
    expect(encodeHugeDev(deviceNumber(253, 300))).toBe(0x10fd2cn);
    expect(decodeHugeDev(0x10fd2cn)).toEqual(deviceNumber(253, 300));
    expect(encodeHugeDev(deviceNumber(4095, 0xfffff))).toBe(0xffffffffn);
    expect(() => decodeHugeDev(1n << 40n)).toThrow(/bits above 32/);
  });
});

describe('struct dm_ioctl', () => {
  it('encodes a request: version 4.0.0, sizes, name, uuid, dev, flags', () => {
    const buf = encodeRequest({ name: 'snap', uuid: 'SNAPSTORE-1', flags: DmFlag.SUSPEND, dev: deviceNumber(253, 2) }, 400);
    expect(buf.length).toBe(400);
    expect([buf.readUInt32LE(0), buf.readUInt32LE(4), buf.readUInt32LE(8)]).toEqual([4, 0, 0]);
    expect(buf.readUInt32LE(12)).toBe(400);
    expect(buf.readUInt32LE(16)).toBe(DM_IOCTL_SIZE);
    expect(buf.readUInt32LE(28)).toBe(DmFlag.SUSPEND);
    expect(buf.readBigUInt64LE(40)).toBe(0xfd02n);
    expect(buf.toString('latin1', 48, 53)).toBe('snap\0');
    expect(buf.toString('latin1', 176, 188)).toBe('SNAPSTORE-1\0');
    const h = decodeHeader(buf);
    expect(h).toMatchObject({ name: 'snap', uuid: 'SNAPSTORE-1', dev: deviceNumber(253, 2), dataSize: 400, openCount: 0 });
  });

  it('refuses names and uuids that do not fit, and sizes below the header', () => {
    expect(() => encodeRequest({ name: 'x'.repeat(128) }, DM_IOCTL_SIZE)).toThrow(/dm_ioctl.name at byte 48: .* longer than 127/);
    encodeRequest({ name: 'x'.repeat(127), uuid: 'u'.repeat(128) }, DM_IOCTL_SIZE);
    expect(() => encodeRequest({ uuid: 'u'.repeat(129) }, DM_IOCTL_SIZE)).toThrow(/dm_ioctl.uuid at byte 176/);
    expect(() => encodeRequest({ name: 'a\0b' }, DM_IOCTL_SIZE)).toThrow(/NUL/);
    expect(() => encodeRequest({}, 311)).toThrow(/data_size/);
  });

  it('accepts the data_size of 305 that commands without a data area return', () => {
    const b = encodeRequest({ name: 'x' }, DM_IOCTL_SIZE);
    b.writeUInt32LE(305, 12);
    expect(decodeHeader(b).dataSize).toBe(305);
  });

  it('validates what the kernel wrote', () => {
    const bad = (edit: (b: Buffer) => void, re: RegExp) => {
      const b = encodeRequest({ name: 'x' }, 512);
      edit(b);
      expect(() => decodeHeader(b)).toThrow(re);
    };
    bad((b) => b.writeUInt32LE(5, 0), /dm_ioctl.version at byte 0: kernel interface 5.0.0/);
    bad((b) => b.writeUInt32LE(513, 12), /dm_ioctl.data_size at byte 12/);
    bad((b) => b.writeUInt32LE(304, 12), /dm_ioctl.data_size at byte 12: 304 is outside 305..512/);
    bad((b) => b.writeUInt32LE(300, 16), /dm_ioctl.data_start at byte 16/);
    bad((b) => b.writeUInt32LE(316, 16), /data_start/);
    bad((b) => b.writeInt32LE(-1, 24), /open_count/);
    bad((b) => b.fill(0x41, 48, 176), /dm_ioctl.name at byte 48: no NUL terminator within 128 bytes/);
    bad((b) => b.fill(0x41, 176, 305), /dm_ioctl.uuid/);
  });
});

/** A header as the kernel returns it, for decoding synthetic data areas. */
function header(buf: Buffer, extra: Partial<DmIoctlHeader>): DmIoctlHeader {
  return { ...decodeHeader(buf), ...extra };
}

describe('struct dm_target_spec', () => {
  const specs = [
    { start: sectors(0), length: sectors(8), type: 'linear', params: '254:0 2048' },
    { start: sectors(8), length: sectors(8), type: 'zero', params: '' },
    { start: sectors(16), length: sectors(24), type: 'linear', params: '254:16 0' },
  ];

  it('packs specs as populate_table walks them: next from this spec, 8-aligned, NUL-terminated params', () => {
    const size = targetSpecsSize(specs);
    expect(size).toBe(align8(40 + 11) + align8(40 + 1) + align8(40 + 9));
    const buf = encodeRequest({ name: 'x', targetCount: 3 }, DM_IOCTL_SIZE + size);
    writeTargetSpecs(buf, DM_IOCTL_SIZE, specs);
    // Walk it the way drivers/md/dm-ioctl.c populate_table/next_target does.
    let at = 0; // spec = param; next = data_start
    let next = buf.readUInt32LE(16);
    const seen: string[] = [];
    let minSize = DM_IOCTL_SIZE;
    for (let i = 0; i < 3; i++) {
      expect(next).toBeGreaterThanOrEqual(minSize);
      expect(next % 8).toBe(0);
      expect(buf.length - at - 40).toBeGreaterThan(next);
      at += next;
      const nul = buf.indexOf(0, at + 40);
      seen.push(`${buf.readBigUInt64LE(at)} ${buf.readBigUInt64LE(at + 8)} ${buf.toString('latin1', at + 24, buf.indexOf(0, at + 24))} ${buf.toString('latin1', at + 40, nul)}`);
      minSize = nul - at + 1;
      next = buf.readUInt32LE(at + 20);
    }
    expect(seen).toEqual(['0 8 linear 254:0 2048', '8 8 zero ', '16 24 linear 254:16 0']);
    // u64 fields beyond 32 bits are written whole
    const big = encodeRequest({}, DM_IOCTL_SIZE + 64);
    writeTargetSpecs(big, DM_IOCTL_SIZE, [{ start: sectors(2 ** 40 + 5), length: sectors(2 ** 52), type: 'zero', params: '' }]);
    expect(big.readBigUInt64LE(DM_IOCTL_SIZE)).toBe(2n ** 40n + 5n);
    expect(big.readBigUInt64LE(DM_IOCTL_SIZE + 8)).toBe(2n ** 52n);
  });

  it('refuses target types and params the kernel would misread', () => {
    const buf = Buffer.alloc(1024);
    expect(() => writeTargetSpecs(buf, 0, [{ ...specs[0]!, type: 'snapshot-origin-x' }])).toThrow(/dm_target_spec\[0\].target_type/);
    expect(() => writeTargetSpecs(buf, 0, [{ ...specs[0]!, params: 'a\0b' }])).toThrow(/not printable ASCII/);
    expect(() => writeTargetSpecs(buf, 0, [{ ...specs[0]!, params: 'é' }])).toThrow(/not printable ASCII/);
  });

  it('decodes TABLE_STATUS output, where next counts from the data start', () => {
    const buf = encodeRequest({}, DM_IOCTL_SIZE + 256);
    const d = DM_IOCTL_SIZE;
    const put = (rel: number, start: number, len: number, type: string, params: string, next: number) => {
      buf.writeBigUInt64LE(BigInt(start), d + rel);
      buf.writeBigUInt64LE(BigInt(len), d + rel + 8);
      buf.writeUInt32LE(next, d + rel + 20);
      buf.write(type, d + rel + 24, 'latin1');
      buf.write(params, d + rel + 40, 'latin1');
    };
    put(0, 0, 8, 'linear', '254:0 2048', 56);
    put(56, 8, 8, 'zero', '', 104);
    const h = header(buf, { targetCount: 2, dataSize: d + 97 });
    expect(decodeTargetSpecs(buf, h)).toEqual([
      { start: 0, length: 8, status: 0, type: 'linear', params: '254:0 2048' },
      { start: 8, length: 8, status: 0, type: 'zero', params: '' },
    ]);
    buf.writeUInt32LE(52, d + 20);
    expect(() => decodeTargetSpecs(buf, h)).toThrow(/dm_target_spec\[0\].next at byte 332: 52 is not an 8-aligned/);
    buf.writeUInt32LE(56, d + 20);
    expect(() => decodeTargetSpecs(buf, header(buf, { targetCount: 3, dataSize: d + 97 }))).toThrow(/dm_target_spec\[1\].next/);
    expect(() => decodeTargetSpecs(buf, header(buf, { targetCount: 2, dataSize: d + 80 }))).toThrow(/dm_target_spec\[1\].\(record\)/);
    buf.writeBigUInt64LE(1n << 53n, d + 8);
    expect(() => decodeTargetSpecs(buf, h)).toThrow(/dm_target_spec\[0\].length at byte 320: is beyond the safe integer range/);
  });
});

/** Writes LIST_DEVICES records the way dm-ioctl.c list_devices does (with DM_UUID_FLAG). */
function nameList(devices: { name: string; dev: number; event: number; uuid: string | null }[], withExtra = true): { buf: Buffer; h: DmIoctlHeader } {
  const buf = encodeRequest({}, 4096);
  const d = DM_IOCTL_SIZE;
  let at = 0;
  let prev = -1;
  for (const x of devices) {
    if (prev >= 0) buf.writeUInt32LE(at - prev, d + prev + 8);
    buf.writeBigUInt64LE(BigInt(x.dev), d + at);
    buf.write(x.name + '\0', d + at + 12, 'latin1');
    prev = at;
    let p = align8(at + 12 + x.name.length + 1);
    if (withExtra) {
      buf.writeUInt32LE(x.event, d + p);
      buf.writeUInt32LE(x.uuid === null ? 2 : 1, d + p + 4);
      p += 8;
      if (x.uuid !== null) {
        buf.write(x.uuid + '\0', d + p, 'latin1');
        p = align8(p + x.uuid.length + 1);
      }
    }
    at = p;
  }
  return { buf, h: header(buf, { dataSize: d + at }) };
}

describe('struct dm_name_list', () => {
  it('decodes names, numbers, event numbers and uuids (ioctl 4.45+)', () => {
    const { buf, h } = nameList([
      { name: 'data', dev: 0xfd00, event: 0, uuid: null },
      { name: 'snapstore-a-cow', dev: 0xfd01, event: 7, uuid: 'SNAPSTORE-a-cow' },
    ]);
    expect(decodeNameList(buf, h)).toEqual([
      { name: 'data', dev: deviceNumber(253, 0), eventNr: 0, uuid: null },
      { name: 'snapstore-a-cow', dev: deviceNumber(253, 1), eventNr: 7, uuid: 'SNAPSTORE-a-cow' },
    ]);
  });

  it('reports the uuid as unknown where an older kernel did not append it', () => {
    const { buf, h } = nameList([{ name: 'data', dev: 0xfd00, event: 0, uuid: null }, { name: 'b', dev: 0xfd01, event: 0, uuid: null }], false);
    expect(decodeNameList(buf, h).map((e) => e.uuid)).toEqual([undefined, undefined]);
  });

  it('reads "no devices" (dev 0) as an empty list', () => {
    const buf = encodeRequest({}, 1024);
    expect(decodeNameList(buf, header(buf, { dataSize: DM_IOCTL_SIZE + 8 }))).toEqual([]);
  });

  it('refuses broken records', () => {
    const { buf, h } = nameList([{ name: 'a', dev: 0xfd00, event: 0, uuid: 'U' }, { name: 'b', dev: 0xfd01, event: 0, uuid: null }]);
    buf.writeUInt32LE(12, DM_IOCTL_SIZE + 8);
    expect(() => decodeNameList(buf, h)).toThrow(/dm_name_list\[0\].next/);
    buf.writeUInt32LE(24, DM_IOCTL_SIZE + 8);
    buf.writeUInt32LE(3, DM_IOCTL_SIZE + 20);
    expect(() => decodeNameList(buf, h)).toThrow(/dm_name_list\[0\].flags at byte 332/);
  });
});

describe('struct dm_target_deps and dm_target_versions', () => {
  it('decodes deps and checks the count fits', () => {
    const buf = encodeRequest({}, 1024);
    const d = DM_IOCTL_SIZE;
    buf.writeUInt32LE(2, d);
    buf.writeBigUInt64LE(0xfe00n, d + 8);
    buf.writeBigUInt64LE(0xfd03n, d + 16);
    expect(decodeDeps(buf, header(buf, { dataSize: d + 24 }))).toEqual([deviceNumber(254, 0), deviceNumber(253, 3)]);
    expect(() => decodeDeps(buf, header(buf, { dataSize: d + 16 }))).toThrow(/dm_target_deps.count/);
  });

  it('decodes target versions', () => {
    const buf = encodeRequest({}, 1024);
    const d = DM_IOCTL_SIZE;
    buf.writeUInt32LE(24, d);
    [1, 4, 0].forEach((v, i) => buf.writeUInt32LE(v, d + 4 + 4 * i));
    buf.write('linear\0', d + 16, 'latin1');
    [1, 16, 0].forEach((v, i) => buf.writeUInt32LE(v, d + 28 + 4 * i));
    buf.write('snapshot\0', d + 40, 'latin1');
    expect(decodeTargetVersions(buf, header(buf, { dataSize: d + 55 }))).toEqual([
      { name: 'linear', version: [1, 4, 0] },
      { name: 'snapshot', version: [1, 16, 0] },
    ]);
    buf.writeUInt32LE(20, d);
    expect(() => decodeTargetVersions(buf, header(buf, { dataSize: d + 55 }))).toThrow(DmAbiError);
  });
});
