// What `snapstore diff` decides without a kernel: whether a checkpoint has an
// old view to mount (oldViewRefusal, on canned manifests and stacks), how a
// path's bytes are written, and the text output's lines.
import { describe, expect, it } from 'vitest';
import { diffLines } from '../../src/cli/commands/diff.js';
import { versioned } from '../../src/cli/json-output.js';
import { expectValid, isValid } from '../support/json-schema.js';
import type { DeviceInfo } from '../../src/dm/api.js';
import type { SnapshotDiff } from '../../src/snapshot/diff.js';
import type { SnapshotManifest } from '../../src/snapshot/manifest.js';
import { oldViewRefusal } from '../../src/snapshot/old-view.js';
import type { StackState } from '../../src/snapshot/stack.js';
import type { SnapshotState } from '../../src/snapshot/states.js';
import { pathText } from '../../src/tree/path-text.js';
import { bytes } from '../../src/units/units.js';

const m = (change: Partial<SnapshotManifest> = {}): SnapshotManifest => ({
  version: 1,
  name: 'u42',
  mode: 'checkpoint',
  state: 'active',
  origin: { dmName: 'data', dmUuid: '', sectors: 8 },
  store: 'u42',
  chunkSize: bytes(4096),
  createdAt: 'x',
  updatedAt: 'x',
  history: [],
  ...change,
});
const device = { name: 'x', uuid: '', dev: { major: 253, minor: 1 }, openCount: 1, eventNr: 0, targetCount: 1, suspended: false, readOnly: false, activeTable: true, inactiveTable: false } as DeviceInfo;
const live: StackState = { origin: device, originTable: [], originKind: 'origin', real: device, cow: device, snap: device };

describe('oldViewRefusal', () => {
  it('a live checkpoint, active or with a rollback pending, whose snapshot is valid: no refusal', () => {
    expect(oldViewRefusal(m(), live, '16/2048 16')).toBeUndefined();
    expect(oldViewRefusal(m({ state: 'rollback-pending' }), live, '16/2048 16')).toBeUndefined();
  });

  it.each<[string, Partial<SnapshotManifest>, StackState | undefined, string | undefined, string, RegExp]>([
    ['update mode', { mode: 'update', origin: { dmUuid: '', kernelName: 'vdb', sectors: 8 } }, undefined, undefined, 'BAD_STATE', /update-mode snapshot: the update is written into \/dev\/mapper\/snapstore-u42/],
    ['invalid in the manifest', { invalid: true }, live, undefined, 'SNAPSHOT_INVALID', /contents before the update are lost/],
    ['merging', { state: 'merging' }, live, undefined, 'BAD_STATE', /is rolling back: .* merged into data, which shows them already/],
    ['committed', { state: 'committed' }, undefined, undefined, 'BAD_STATE', /is committed: its snapshot is gone/],
    ['discarded', { state: 'discarded' }, undefined, undefined, 'BAD_STATE', /is discarded: its snapshot is gone/],
    ['a step that did not finish', { state: 'committing' }, live, undefined, 'BAD_STATE', /is committing, a step that did not finish/],
    ['beneath a crypt layer', { beneath: { crypt: 'data-crypt', offset: 32768 } }, live, '1/8 1', 'ORIGIN_UNSUPPORTED', /beneath the crypt layer data-crypt: its snapshot holds ciphertext/],
    ['not activated since the boot', {}, { ...live, originKind: 'plain', real: undefined, cow: undefined, snap: undefined }, undefined, 'BAD_STATE', /devices are not built \(snapstore-u42-snap is not there\)/],
    ['invalidated by the kernel', {}, live, 'Invalid', 'SNAPSHOT_INVALID', /the kernel invalidated the snapshot of "u42"/],
    ['overflowed', {}, live, 'Overflow', 'SNAPSHOT_INVALID', /invalidated/],
  ])('refused: %s', (_, change, stack, status, code, message) => {
    const r = oldViewRefusal(m(change), stack, status);
    expect(r).toMatchObject({ code, message: expect.stringMatching(message) });
    expect(r?.hint).toBeTruthy();
  });

  it('every state but active and rollback-pending is refused', () => {
    const states: SnapshotState[] = ['creating', 'merging', 'committing', 'discarding', 'rolling-back', 'committed', 'rolled-back', 'discarded'];
    for (const state of states) expect(oldViewRefusal(m({ state }), live, '1/8 1')?.code, state).toBe('BAD_STATE');
  });
});

describe('pathText', () => {
  it.each<[number[] | string, string]>([
    ['plain/name.txt', 'plain/name.txt'],
    ['café/ü', 'café/ü'],
    [[0x63, 0x61, 0x66, 0xe9], 'caf\\xe9'],
    [[0xc3], '\\xc3'],
    [[0xef, 0xbb, 0xbf, 0x61], '\ufeffa'],
    ['a\\b', 'a\\x5cb'],
    [[0x61, 0x5c, 0xff], 'a\\x5c\\xff'],
    ['new\nline\ttab\x7f', 'new\\x0aline\\x09tab\\x7f'],
  ])('%j is written %j', (input, text) => {
    expect(pathText(typeof input === 'string' ? Buffer.from(input) : Buffer.from(input))).toBe(text);
  });
});

describe('the text output', () => {
  it('one line a path in path order: A, D, M with what changed; folders end in /', () => {
    const facts = { type: 'file' as const, size: 4, mode: '0644', uid: 0, gid: 0 };
    const d: SnapshotDiff = {
      name: 'u42',
      fsType: 'ext4',
      snapshotDevice: '/dev/mapper/snapstore-u42-snap',
      origin: { device: '/dev/mapper/data', mountedAt: '/data' },
      storeLeftOut: '/data/.snapstore/u42.store',
      added: [{ path: 'b-new', type: 'directory' }],
      removed: [{ path: 'a-gone', type: 'file' }],
      changed: [
        { path: 'c', type: 'file', changes: ['mode', 'owner', 'content'], old: facts, new: { ...facts, mode: '0600', uid: 1, gid: 2 } },
        { path: 'd', type: 'symlink', changes: ['target'], old: { ...facts, type: 'symlink', target: 'x' }, new: { ...facts, type: 'symlink', target: 'y' } },
        { path: 'e', type: 'directory', changes: ['type'], old: facts, new: { ...facts, type: 'directory' } },
      ],
    };
    expect(diffLines(d)).toEqual([
      'D  a-gone',
      'A  b-new/',
      'M  c  (mode 0644 -> 0600, owner 0:0 -> 1:2, content)',
      'M  d  (target x -> y)',
      'M  e/  (type file -> directory)',
    ]);
    // The same diff as --json prints it, held to docs/json-schema/diff.schema.json (the VM test holds the real one to it too).
    expectValid('diff', versioned('diff', d));
    expect(isValid('diff', versioned('diff', { ...d, changed: [{ ...d.changed[0]!, changes: ['mtime'] }] }))).toBe(false);
  });
});
