// The crash matrix on the real kernel: the lifecycle's CLI killed with
// SIGKILL (the test-only fault hook SNAPSTORE_TEST_FAULT) just before or
// just after a persisted step or a device-mapper call of create, commit,
// rollback and activate; then `recover` (and, where the state calls for it,
// the merge finished): the origin holds exactly the old or the new
// contents, nothing leaked or suspended, the manifest parses and agrees with
// the kernel, and a second `recover` changes nothing. The same for update
// mode over the same origin (the update written into snapstore-s; commit by
// the kernel's merge or ours offline, rollback): the origin holds the old
// contents until commit, the new ones after. A sample of the fault points
// runs here; SNAPSTORE_SOAK=1 (scripts/soak) runs all of them with 3 seeds.
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DeviceMapper } from '../../src/dm/client.js';
import { formatTable } from '../../src/dm/table-text.js';
import { activateSnapshots } from '../../src/snapshot/activate.js';
import { createSnapshot } from '../../src/snapshot/create.js';
import { setFaultHandler } from '../../src/snapshot/faults.js';
import { readSnapshot } from '../../src/snapshot/manifest.js';
import { commitSnapshot } from '../../src/snapshot/commit.js';
import { recoverSnapshots } from '../../src/snapshot/recover.js';
import { rollbackSnapshot } from '../../src/snapshot/rollback.js';
import { StateDir } from '../../src/state/state-dir.js';
import { bytes, chunkSize } from '../../src/units/units.js';
import { checkConsistent } from '../support/lifecycle-checks.js';
import { guestDisk, requireGuest, run } from '../vm/guest.js';
import { sectorsOf, sh } from './lifecycle-helpers.js';

requireGuest();
process.env.DM_DISABLE_UDEV = '1';
const SOAK = process.env['SNAPSTORE_SOAK'] === '1';
const STATE = '/tmp/mnt/cmeta/state';
const SIZE = 16 << 20;
const NEW_AT = 4 << 20;
const NEW_LENGTH = 6 << 20;
let dm: DeviceMapper;
let ownTable: string;
let rawDisk: string;

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
function readOrigin(): Buffer {
  const b = Buffer.alloc(SIZE);
  const fd = fs.openSync('/dev/mapper/corigin', 'r');
  fs.readSync(fd, b, 0, SIZE, 0);
  fs.closeSync(fd);
  return b;
}

interface Case {
  old: Buffer;
  neu: Buffer;
  chunk: number;
}

function seeded(seed: number): Case {
  const old = randomBytes(SIZE);
  const neu = Buffer.from(old);
  randomBytes(NEW_LENGTH).copy(neu, NEW_AT);
  return { old, neu, chunk: [4096, 8192, 16384][seed % 3]! };
}

/** The origin with the old contents, our stack gone, the state directory empty: as before any snapshot. */
function reset(c: Case): void {
  run('dmsetup', ['suspend', 'corigin']);
  run('dmsetup', ['load', 'corigin', '--table', ownTable]);
  run('dmsetup', ['resume', 'corigin']);
  sh('for d in snapstore-s-snap snapstore-s snapstore-s-cow snapstore-s-real; do dmsetup info $d >/dev/null 2>&1 && { dmsetup resume $d; dmsetup remove $d; }; done; true');
  expect(run('dmsetup', ['ls'])).not.toMatch(/snapstore-s/);
  sh(`chattr -i /tmp/mnt/cg/.snapstore/* 2>/dev/null; rm -rf /tmp/mnt/cg/.snapstore/* ${STATE}`);
  const fd = fs.openSync('/dev/mapper/corigin', 'r+');
  fs.writeSync(fd, c.old, 0, SIZE, 0);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

const opts = { stateDir: STATE, log: () => {} };
const createArgs = (c: Case) => ['create', 's', '--origin', '/dev/mapper/corigin', '--store', '/tmp/mnt/cg/.snapstore/s.store', '--size', '24M', '--chunk-size', String(c.chunk), '--state-dir', STATE];
async function create(c: Case): Promise<void> {
  await createSnapshot({ ...opts, name: 's', origin: '/dev/mapper/corigin', store: '/tmp/mnt/cg/.snapstore/s.store', size: bytes(24 << 20), chunk: chunkSize(bytes(c.chunk)), mode: 'checkpoint' });
}
function writeNew(c: Case): void {
  fs.writeFileSync('/tmp/new-part.bin', c.neu.subarray(NEW_AT, NEW_AT + NEW_LENGTH));
  run('dd', ['if=/tmp/new-part.bin', 'of=/dev/mapper/corigin', 'bs=1M', `seek=${NEW_AT >> 20}`, 'oflag=direct', 'status=none']);
}
/** What a reboot leaves: the origin on its own table again, our devices gone. */
function powerCycle(): void {
  run('dmsetup', ['suspend', 'corigin']);
  run('dmsetup', ['load', 'corigin', '--table', ownTable]);
  run('dmsetup', ['resume', 'corigin']);
  sh('for d in snapstore-s-snap snapstore-s snapstore-s-cow snapstore-s-real; do dmsetup info $d >/dev/null 2>&1 && dmsetup remove $d; done; true');
}

const updateArgs = (c: Case) => [...createArgs(c), '--mode', 'update'];
async function createUpdate(c: Case): Promise<void> {
  await createSnapshot({ ...opts, name: 's', origin: '/dev/mapper/corigin', store: '/tmp/mnt/cg/.snapstore/s.store', size: bytes(24 << 20), chunk: chunkSize(bytes(c.chunk)), mode: 'update' });
}
/** The update written into the snapshot: the origin is not touched. */
function writeNewInto(c: Case): void {
  fs.writeFileSync('/tmp/new-part.bin', c.neu.subarray(NEW_AT, NEW_AT + NEW_LENGTH));
  run('dd', ['if=/tmp/new-part.bin', 'of=/dev/mapper/snapstore-s', 'bs=1M', `seek=${NEW_AT >> 20}`, 'oflag=direct', 'status=none']);
}

interface Scenario {
  setup(c: Case): Promise<void>;
  /** the CLI command that is killed */
  args(c: Case): string[];
  /** the same, in-process, to learn its fault points */
  inProcess(c: Case): Promise<unknown>;
}
const SCENARIOS: Record<string, Scenario> = {
  create: { setup: async () => {}, args: createArgs, inProcess: create },
  commit: {
    setup: async (c) => {
      await create(c);
      writeNew(c);
    },
    args: () => ['commit', 's', '--state-dir', STATE],
    inProcess: () => commitSnapshot({ ...opts, name: 's' }),
  },
  rollback: {
    setup: async (c) => {
      await create(c);
      writeNew(c);
    },
    args: () => ['rollback', 's', '--wait', '--state-dir', STATE],
    inProcess: () => rollbackSnapshot({ ...opts, name: 's', wait: true }),
  },
  'activate after a reboot': {
    setup: async (c) => {
      await create(c);
      writeNew(c);
      powerCycle();
    },
    args: () => ['activate', '--state-dir', STATE],
    inProcess: () => activateSnapshots(opts),
  },
  'update: create': { setup: async () => {}, args: updateArgs, inProcess: createUpdate },
  'update: commit': {
    setup: async (c) => {
      await createUpdate(c);
      writeNewInto(c);
    },
    args: () => ['commit', 's', '--wait', '--state-dir', STATE],
    inProcess: () => commitSnapshot({ ...opts, name: 's', wait: true }),
  },
  'update: commit --offline': {
    setup: async (c) => {
      await createUpdate(c);
      writeNewInto(c);
    },
    args: () => ['commit', 's', '--offline', '--state-dir', STATE],
    inProcess: () => commitSnapshot({ ...opts, name: 's', offline: true }),
  },
  'update: rollback': {
    setup: async (c) => {
      await createUpdate(c);
      writeNewInto(c);
    },
    args: () => ['rollback', 's', '--state-dir', STATE],
    inProcess: () => rollbackSnapshot({ ...opts, name: 's' }),
  },
};

beforeAll(() => {
  dm = DeviceMapper.open();
  const meta = guestDisk('cmeta');
  run('mkfs.ext4', ['-qF', meta]);
  fs.mkdirSync('/tmp/mnt/cmeta', { recursive: true });
  run('mount', [meta, '/tmp/mnt/cmeta']);
  rawDisk = guestDisk('craw');
  ownTable = `0 ${SIZE / 512} linear ${rawDisk} 0`;
  run('dmsetup', ['create', 'corigin', '--table', ownTable]);
  ownTable = formatTable(dm.table('corigin'), dm.features());
  const g = guestDisk('cg');
  run('dmsetup', ['create', 'data-cg', '--table', `0 ${sectorsOf(g)} linear ${g} 0`]);
  run('mkfs.ext4', ['-qF', '/dev/mapper/data-cg']);
  fs.mkdirSync('/tmp/mnt/cg', { recursive: true });
  run('mount', ['/dev/mapper/data-cg', '/tmp/mnt/cg']);
  fs.mkdirSync('/tmp/mnt/cg/.snapstore', { mode: 0o700 });
});
afterAll(() => {
  dm.close();
  sh('umount /tmp/mnt/cg /tmp/mnt/cmeta 2>/dev/null; true');
});

const seeds = SOAK ? [0, 1, 2] : [0];

describe.each(Object.entries(SCENARIOS))('kill -9 at fault points: %s', (name, scenario) => {
  test(`every ${SOAK ? '' : 'sixteenth '}fault point: recover leaves the origin old or new, nothing leaked, and a second recover changes nothing`, async () => {
    const c0 = seeded(0);
    reset(c0);
    await scenario.setup(c0);
    const labels: string[] = [];
    setFaultHandler((l) => void labels.push(l));
    try {
      await scenario.inProcess(c0);
    } finally {
      setFaultHandler(undefined);
    }
    expect(labels.length).toBeGreaterThan(3);
    const chosen = SOAK ? labels : labels.filter((_, i) => i % 16 === 1);
    const failures: string[] = [];
    let runs = 0;
    for (const seed of seeds) {
      for (const label of chosen) {
        const c = seeded(seed);
        reset(c);
        await scenario.setup(c);
        const r = spawnSync('node', ['bin/snapstore', ...scenario.args(c)], { env: { ...process.env, SNAPSTORE_TEST_FAULT: label }, encoding: 'utf8' });
        runs++;
        try {
          if (r.signal !== 'SIGKILL') throw new Error(`not killed (exit ${r.status}): ${r.stderr.replace(/\n/g, ' / ')}`);
          // A crash during the boot's activate is followed by another boot.
          if (name === 'activate after a reboot') powerCycle();
          await recoverSnapshots(opts);
          const m = readSnapshot(StateDir.need(STATE), 's');
          const update = m.mode === 'update';
          if (m.state === 'active' && name === 'activate after a reboot') await activateSnapshots(opts);
          // A merge only goes forward: finished with the command that began it.
          if (m.state === 'merging' && !update) await rollbackSnapshot({ ...opts, name: 's', wait: true });
          if (m.state === 'merging' && update) await commitSnapshot({ ...opts, name: 's', wait: true, offline: m.mergeOwner === 'offline' });
          checkConsistent({ dm, stateDir: STATE, name: 's', origin: 'corigin', ownTable });
          expect((await recoverSnapshots(opts)).actions).toEqual([]);
          const now = readSnapshot(StateDir.need(STATE), 's').state;
          const content = sha(readOrigin());
          // A checkpoint's origin is new unless rolled back (or never written: create); an update's is old until committed.
          const want = update ? (now === 'committed' ? sha(c.neu) : sha(c.old)) : now === 'rolled-back' || name === 'create' ? sha(c.old) : sha(c.neu);
          expect(content, `${label}: origin after ${now}`).toBe(want);
        } catch (e) {
          failures.push(`${label} (seed ${seed}): ${(e as Error).message.split('\n')[0]}`);
        }
      }
    }
    if (failures.length) throw new Error(`${failures.length} fault point(s) failed: ${failures.join(" | ")}`);
    console.log(`${name}: ${labels.length} fault points, ${chosen.length} killed with ${seeds.length} seed(s): ${runs} runs`);
  }, SOAK ? 3 * 3600_000 : 900_000);
});
