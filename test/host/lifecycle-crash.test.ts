// The crash matrix on the host: every persisted step and every device-mapper
// call of create, activate (with a boot budget too), commit, discard and
// rollback is a fault point;
// for each, the operation "dies" there (a simulated crash: nothing is
// undone), then `recover` runs. After it: nothing is left suspended, the
// origin is on its own table or carries our live snapshot or merge, no
// device of ours is leaked, the manifest parses and agrees with the kernel,
// the store exists exactly when the state needs it, and a second `recover`
// changes nothing. (The same matrix with kill -9 on the real kernel: VM.)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatTable } from '../../src/dm/table-text.js';
import { activateSnapshots } from '../../src/snapshot/activate.js';
import { commitSnapshot, discardSnapshot } from '../../src/snapshot/commit.js';
import { createSnapshot, type CreateSnapshotOptions } from '../../src/snapshot/create.js';
import { setFaultHandler, SimulatedCrash } from '../../src/snapshot/faults.js';
import { recoverSnapshots } from '../../src/snapshot/recover.js';
import { extendSnapshot } from '../../src/snapshot/extend.js';
import { rollbackSnapshot } from '../../src/snapshot/rollback.js';
import { bytes, chunkSize } from '../../src/units/units.js';
import { deviceNumber } from '../../src/linux/device-number.js';
import { FakePlatform, ORIGIN, ORIGIN_PATH, ORIGIN_TABLE } from '../support/fake-platform.js';
import { checkConsistent } from '../support/lifecycle-checks.js';

interface World {
  p: FakePlatform;
  stateDir: string;
}
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function world(): World {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-crash-'));
  dirs.push(stateDir);
  const p = new FakePlatform();
  // An update's origin: a plain partition nothing uses.
  p.addPlain('vdb', deviceNumber(254, 16), 1 << 20, '5e1f00d0-02');
  return { p, stateDir };
}
const o = (w: World) => ({ stateDir: w.stateDir, platform: w.p, log: () => {} });
/** `more`: a boot budget (`bootAttempts`), for the scenarios of a health-gated commit. */
const create = (w: World, more: Partial<CreateSnapshotOptions> = {}) =>
  createSnapshot({ ...o(w), name: 's', origin: ORIGIN_PATH, store: '/data/s.store', size: bytes(16 << 20), chunk: chunkSize(bytes(4096)), mode: 'checkpoint', ...more });

const createUpdate = (w: World, more: Partial<CreateSnapshotOptions> = {}) =>
  createSnapshot({ ...o(w), name: 's', origin: '/dev/vdb', store: '/data/s.store', size: bytes(16 << 20), chunk: chunkSize(bytes(4096)), mode: 'update', ...more });

interface Scenario {
  setup(w: World): Promise<void>;
  run(w: World): Promise<unknown>;
}
const SCENARIOS: Record<string, Scenario> = {
  create: { setup: async () => {}, run: (w) => create(w) },
  commit: { setup: async (w) => void (await create(w)), run: (w) => commitSnapshot({ ...o(w), name: 's' }) },
  discard: { setup: async (w) => void (await create(w)), run: (w) => discardSnapshot({ ...o(w), name: 's' }) },
  'rollback (origin unmounted)': {
    setup: async (w) => {
      await create(w);
      w.p.dm.statusOnLive.set(ORIGIN, '16/32768 16');
    },
    run: (w) => rollbackSnapshot({ ...o(w), name: 's', wait: true }),
  },
  'activate after a reboot': {
    setup: async (w) => {
      await create(w);
      w.p.reboot();
    },
    run: (w) => activateSnapshots(o(w)),
  },
  'activate with a pending rollback': {
    setup: async (w) => {
      await create(w);
      w.p.mountOrigin('/data');
      await rollbackSnapshot({ ...o(w), name: 's' });
      w.p.reboot();
      w.p.dm.statusOnLive.set(ORIGIN, '16/32768 16');
    },
    run: (w) => activateSnapshots(o(w)),
  },
  'activate with a boot budget (this boot counted)': {
    setup: async (w) => {
      await create(w, { bootAttempts: 2 });
      w.p.reboot();
    },
    run: (w) => activateSnapshots(o(w)),
  },
  'activate with a spent boot budget (the rollback starts)': {
    setup: async (w) => {
      await create(w, { bootAttempts: 1 });
      w.p.reboot();
      await activateSnapshots(o(w));
      w.p.reboot();
      w.p.dm.statusOnLive.set(ORIGIN, '16/32768 16');
    },
    run: (w) => activateSnapshots(o(w)),
  },
  'rollback --offline': {
    setup: async (w) => void (await create(w)),
    run: (w) => rollbackSnapshot({ ...o(w), name: 's', offline: true }),
  },
  extend: { setup: async (w) => void (await create(w)), run: (w) => extendSnapshot({ ...o(w), name: 's', by: bytes(8 << 20) }) },
  'update: create': { setup: async () => {}, run: (w) => createUpdate(w) },
  'update: extend': { setup: async (w) => void (await createUpdate(w)), run: (w) => extendSnapshot({ ...o(w), name: 's', by: bytes(8 << 20) }) },
  'update: commit (the kernel merges)': {
    setup: async (w) => {
      await createUpdate(w);
      w.p.dm.statusOnLive.set('snapstore-s', '16/32768 16');
    },
    run: (w) => commitSnapshot({ ...o(w), name: 's', wait: true }),
  },
  'update: commit --offline': { setup: async (w) => void (await createUpdate(w)), run: (w) => commitSnapshot({ ...o(w), name: 's', offline: true }) },
  'update: rollback': { setup: async (w) => void (await createUpdate(w)), run: (w) => rollbackSnapshot({ ...o(w), name: 's' }) },
  'update: activate after a reboot': {
    setup: async (w) => {
      await createUpdate(w);
      w.p.reboot();
    },
    run: (w) => activateSnapshots(o(w)),
  },
  'update: activate with a spent boot budget (the update dropped)': {
    setup: async (w) => {
      await createUpdate(w, { bootAttempts: 1 });
      w.p.reboot();
      await activateSnapshots(o(w));
      w.p.reboot();
    },
    run: (w) => activateSnapshots(o(w)),
  },
  'update: activate with a pending rollback': {
    setup: async (w) => {
      await createUpdate(w);
      w.p.dm.open('snapstore-s');
      await rollbackSnapshot({ ...o(w), name: 's' });
      w.p.reboot();
    },
    run: (w) => activateSnapshots(o(w)),
  },
};

async function labelsOf(s: Scenario): Promise<string[]> {
  const w = world();
  await s.setup(w);
  const labels: string[] = [];
  setFaultHandler((l) => void labels.push(l));
  try {
    await s.run(w);
  } finally {
    setFaultHandler(undefined);
  }
  return labels;
}

function check(w: World): void {
  // An extension cut short is settled (its file cut back) by recover.
  expect([...w.p.extending]).toEqual([]);
  checkConsistent({ dm: w.p.dm, platform: w.p, stateDir: w.stateDir, name: 's', origin: ORIGIN, ownTable: formatTable(ORIGIN_TABLE, w.p.dm.features()) });
}

describe.each(Object.entries(SCENARIOS))('crash matrix: %s', (_name, scenario) => {
  it.each([
    ['recover', false],
    ['a power cut, a reboot, activate, then recover', true],
  ] as const)('dies at every fault point; %s leaves a consistent system, and a second recover changes nothing', async (_how, reboot) => {
    const labels = await labelsOf(scenario);
    expect(labels.length).toBeGreaterThan(3);
    const failures: string[] = [];
    for (const label of labels) {
      const w = world();
      await scenario.setup(w);
      setFaultHandler((l) => {
        if (l === label) throw new SimulatedCrash(l);
      });
      try {
        await scenario.run(w).catch((e: unknown) => {
          if (!(e instanceof SimulatedCrash)) throw e;
        });
      } finally {
        setFaultHandler(undefined);
      }
      try {
        if (reboot) {
          w.p.reboot();
          await activateSnapshots(o(w));
        }
        await recoverSnapshots(o(w));
        check(w);
        const again = await recoverSnapshots(o(w));
        expect(again.actions).toEqual([]);
      } catch (e) {
        failures.push(`${label}: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    if (failures.length) throw new Error(`${failures.length} fault point(s) failed: ${failures.join(" | ")}`);
    console.log(`${_name}: ${labels.length} fault points, each crashed and recovered (${_how})`);
  });
});
