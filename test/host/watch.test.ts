// The watcher on the host, against the fake device-mapper and platform: a
// simulated writer fills the store (the snapshot's status as the kernel would
// report it, its total the COW device's size), and the watcher must keep
// ahead of it; when the store cannot grow, warnings and then the on-full
// policy (abort: writes stopped and recorded, left so by recover; commit;
// invalidate: said aloud, nothing done); a clean stop on the signal; a
// restart that catches up an extension cut short. And the pure parts: the
// step plan and the fill rate.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSnapshot } from '../../src/snapshot/create.js';
import { extendSnapshot } from '../../src/snapshot/extend.js';
import { setFaultHandler, SimulatedCrash } from '../../src/snapshot/faults.js';
import { readSnapshot } from '../../src/snapshot/manifest.js';
import { recoverSnapshots } from '../../src/snapshot/recover.js';
import { snapshotStatus } from '../../src/snapshot/status.js';
import { tableSectors } from '../../src/snapshot/stack.js';
import { StateDir } from '../../src/state/state-dir.js';
import type { StoreManifest } from '../../src/store/manifest.js';
import { bytes, chunkSize, UnitError, type Bytes } from '../../src/units/units.js';
import { decide, mustAct } from '../../src/watch/plan.js';
import { FillRate } from '../../src/watch/rate.js';
import { watchSnapshots, type OnFull, type WatchEvent } from '../../src/watch/watcher.js';
import { FakePlatform, ORIGIN, ORIGIN_PATH } from '../support/fake-platform.js';

const MiB = 1 << 20;
let stateDir: string;
let p: FakePlatform;

beforeEach(() => {
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-watch-'));
  p = new FakePlatform();
});
afterEach(() => fs.rmSync(stateDir, { recursive: true, force: true }));

const o = () => ({ stateDir, platform: p, log: () => {} });
const create = () => createSnapshot({ ...o(), name: 's', origin: ORIGIN_PATH, store: '/data/s.store', size: bytes(16 * MiB), chunk: chunkSize(bytes(4096)), mode: 'checkpoint' });
const cowBytes = () => tableSectors(p.dm.table('snapstore-s-cow')) * 512;

/**
 * A writer that uses `perTick` bytes of store every `tickMs`, as the kernel
 * reports it; it stops (and says so) when the store would overflow: then the
 * snapshot is Invalid, as the kernel would make it.
 */
function writer(perTick: number, tickMs: number, until: number) {
  let used = 64 * 1024;
  let overflowed = false;
  const timer = setInterval(() => {
    if (overflowed || used >= until || !p.dm.find('snapstore-s-snap')) return;
    if (p.dm.info(ORIGIN).suspended) return; // writes wait while the origin is suspended
    const total = cowBytes();
    used += perTick;
    if (used > total) {
      overflowed = true;
      p.dm.setStatus('snapstore-s-snap', 'Invalid');
    } else p.dm.setStatus('snapstore-s-snap', `${used / 512}/${total / 512} ${Math.ceil(used / 512 / 256)}`);
  }, tickMs);
  return {
    stop: () => clearInterval(timer),
    get used() {
      return used;
    },
    get overflowed() {
      return overflowed;
    },
  };
}

async function watchUntil(done: (events: WatchEvent[]) => boolean, extra: { onFull?: OnFull; max?: number | ((store: StoreManifest) => Bytes); pending?: number } = {}, ms = 4000): Promise<WatchEvent[]> {
  const events: WatchEvent[] = [];
  const stop = new AbortController();
  const t = setTimeout(() => stop.abort(), ms);
  const check = setInterval(() => done(events) && stop.abort(), 10);
  try {
    await watchSnapshots({ ...o(), names: ['s'], intervalMs: 10, minStep: bytes(8 * MiB), leadSeconds: 0.5, actSeconds: 0.05, pendingWrites: () => extra.pending ?? 0, signal: stop.signal, onEvent: (e) => events.push(e), ...(extra.onFull ? { onFull: extra.onFull } : {}), ...(extra.max ? { max: typeof extra.max === 'number' ? bytes(extra.max) : extra.max } : {}) });
  } finally {
    clearTimeout(t);
    clearInterval(check);
  }
  return events;
}

describe('the watcher', () => {
  it('keeps a 16 MiB store ahead of a writer that puts 160 MiB through it: never Invalid, grown several times, one event per decision, a clean stop', async () => {
    await create();
    p.space.available = 2048 * MiB;
    const w = writer(MiB, 5, 160 * MiB);
    const events = await watchUntil(() => w.used >= 160 * MiB);
    w.stop();
    expect(w.overflowed).toBe(false);
    const grown = events.filter((e) => e.event === 'extended');
    expect(grown.length).toBeGreaterThanOrEqual(2);
    expect(cowBytes()).toBeGreaterThan(160 * MiB);
    expect(events[0]).toMatchObject({ event: 'watching', name: 's' });
    expect(events.at(-1)).toMatchObject({ event: 'stopped' });
    expect(events.filter((e) => e.event === 'extending').length).toBe(grown.length + events.filter((e) => e.event === 'extend-failed').length);
    // The step follows the rate: later steps are larger than the minimum.
    expect(Math.max(...grown.map((e) => e.byBytes ?? 0))).toBeGreaterThan(8 * MiB);
    // status shows the fill rate the watcher measured.
    const [s] = snapshotStatus({ stateDir, platform: p, name: 's' });
    expect(s!.fill?.bytesPerSecond).toBeGreaterThan(0);
  });

  it.each([
    ['abort', 'the origin suspended (writes stopped), recorded; recover leaves it so; the snapshot stays valid'],
    ['commit', 'the snapshot committed before it filled'],
    ['invalidate', 'said aloud, nothing done'],
  ] as const)('--on-full %s, when the store cannot grow (warnings at 80, 90 and 95 percent first): %s', async (policy, _what) => {
    await create();
    p.space.available = 0; // the filesystem has no room: every extension fails
    const w = writer(64 * 1024, 5, 15 * MiB + 512 * 1024);
    const events = await watchUntil((ev) => ev.some((e) => e.event === 'policy') && (policy !== 'invalidate' || w.used >= 15 * MiB), { onFull: policy });
    w.stop();
    const warnings = events.filter((e) => e.event === 'warning').map((e) => e.message);
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(warnings[0]).toMatch(/WARNING.*cannot grow.*--on-full/);
    expect(events.filter((e) => e.event === 'cannot-grow')).toHaveLength(1);
    expect(events.filter((e) => e.event === 'policy')).toHaveLength(1);
    const m = readSnapshot(StateDir.need(stateDir), 's');
    if (policy === 'abort') {
      expect(w.overflowed).toBe(false);
      expect(p.dm.info(ORIGIN).suspended).toBe(true);
      expect(m.writesStopped).toBe(ORIGIN);
      const r = await recoverSnapshots(o());
      expect(p.dm.info(ORIGIN).suspended).toBe(true);
      expect(r.notes.join('\n')).toMatch(/suspended by the watcher/);
      expect(snapshotStatus({ stateDir, platform: p, name: 's' })[0]!.health).toBe('valid');
    } else if (policy === 'commit') {
      expect(m.state).toBe('committed');
    } else {
      expect(events.find((e) => e.event === 'policy')!.message).toMatch(/will be lost/);
      expect(m.state).toBe('active');
    }
  });

  it('grows ahead of writes waiting in the page cache (before they reach the store), taking half the room the filesystem has when it has less than asked', async () => {
    await create();
    p.space.available = 150 * MiB;
    const events = await watchUntil((ev) => ev.some((e) => e.event === 'extended'), { pending: 200 * MiB });
    const grown = events.find((e) => e.event === 'extending')!;
    expect(grown.message).toMatch(/wait in the page cache/);
    // Asked for room for the waiting writes and another burst as large, with a headroom (8 MiB, the minimum step) above.
    expect(16 * MiB + grown.byBytes!).toBeGreaterThanOrEqual(2 * 200 * MiB + 8 * MiB);
    expect(grown.byBytes).toBeLessThan(500 * MiB);
    // The filesystem had 150 MiB, less 5% of 1 GiB kept free: the store took half of that (not
    // nothing; not all: it is on the filesystem its writer fills, and the writes need room too).
    expect(cowBytes()).toBe(16 * MiB + Math.floor((150 * MiB - Math.ceil((1024 * MiB * 5) / 100)) / 2 / 4096) * 4096);
  });

  it('once the room cut a step short, an idle store stops growing: no halves of the rest taken one after another for a burst long written back', async () => {
    await create();
    p.space.available = 150 * MiB;
    let reads = 0;
    const events: WatchEvent[] = [];
    const stop = new AbortController();
    const t = setTimeout(() => stop.abort(), 1500);
    // 200 MiB wait in the page cache once, then none: the writer has stopped.
    await watchSnapshots({ ...o(), names: ['s'], intervalMs: 10, minStep: bytes(8 * MiB), leadSeconds: 0.5, pendingWrites: () => (reads++ === 0 ? 200 * MiB : 0), signal: stop.signal, onEvent: (e) => events.push(e) });
    clearTimeout(t);
    const grown = events.filter((e) => e.event === 'extended');
    expect(grown.map((e) => e.message)).toHaveLength(1);
    expect(events.filter((e) => e.event === 'cannot-grow' || e.event === 'extend-failed')).toEqual([]);
    expect(reads).toBeGreaterThan(20);
  });

  it('never grows a store past a copy of every chunk of the origin (1 GiB here), whatever waits in the page cache', async () => {
    await create();
    p.space.available = 8 * 1024 * MiB;
    const events = await watchUntil((ev) => ev.some((e) => e.event === 'extended'), { pending: 4 * 1024 * MiB });
    // 262,144 chunks of 4 KiB, 1,024 metadata chunks (256 exceptions each), the header and the next area's chunk.
    const whole = (262_144 + 1_024 + 2) * 4096;
    expect(events.find((e) => e.event === 'extending')!.byBytes).toBe(whole - 16 * MiB);
  });

  it('stops at --max: warns, then acts', async () => {
    await create();
    const w = writer(64 * 1024, 5, 40 * MiB);
    const events = await watchUntil((ev) => ev.some((e) => e.event === 'policy'), { max: 24 * MiB });
    w.stop();
    expect(cowBytes()).toBe(24 * MiB);
    expect(events.some((e) => e.event === 'warning' && /--max/.test(e.message))).toBe(true);
    expect(w.overflowed).toBe(false);
  });

  it('a --max worked out for each store (a share on the command line): worked out once, with its store, and held to', async () => {
    await create();
    const asked: string[] = [];
    const w = writer(64 * 1024, 5, 40 * MiB);
    const events = await watchUntil((ev) => ev.some((e) => e.event === 'policy'), { max: (store) => (asked.push(store.name), bytes(6144 * store.chunkSize)) });
    w.stop();
    expect(asked).toHaveLength(1);
    expect(events[0]!.message).toMatch(/up to 24 MiB/);
    expect(cowBytes()).toBe(24 * MiB);
    expect(w.overflowed).toBe(false);
  });

  it('a --max that cannot be worked out for a store: said at once, that store does not grow, and the policy acts before it fills', async () => {
    await create();
    const w = writer(64 * 1024, 5, 40 * MiB);
    const max = () => {
      throw new UnitError('--max "1G-20%" is an empty range', { usage: true });
    };
    const events = await watchUntil((ev) => ev.some((e) => e.event === 'policy'), { max });
    w.stop();
    expect(events.map((e) => e.event).slice(0, 2)).toEqual(['watching', 'cannot-grow']);
    expect(events[1]!.message).toMatch(/cannot grow any more \(--max "1G-20%" is an empty range\)/);
    expect(events.filter((e) => e.event === 'extending')).toEqual([]);
    expect(cowBytes()).toBe(16 * MiB);
    expect(w.overflowed).toBe(false);
  });

  it('after a restart, catches up an extension cut short (the map written, the COW not reloaded)', async () => {
    await create();
    setFaultHandler((l) => {
      if (l === 'store:manifest grown') throw new SimulatedCrash(l);
    });
    await extendSnapshot({ ...o(), name: 's', by: bytes(8 * MiB) }).catch((e: unknown) => {
      if (!(e instanceof SimulatedCrash)) throw e;
    });
    setFaultHandler(undefined);
    expect(cowBytes()).toBe(16 * MiB);
    const events = await watchUntil((ev) => ev.some((e) => e.event === 'watching'));
    expect(events.filter((e) => e.event === 'caught-up').map((e) => e.message).join('\n')).toMatch(/grew snapstore-s-cow/);
    expect(cowBytes()).toBe(24 * MiB);
  });

  it('ends when the snapshots it was given are finished', async () => {
    await create();
    const run = watchSnapshots({ ...o(), names: ['s'], intervalMs: 10, minStep: bytes(4 * MiB), pendingWrites: () => 0, onEvent: () => {} });
    await new Promise((r) => setTimeout(r, 50));
    const { commitSnapshot } = await import('../../src/snapshot/commit.js');
    await commitSnapshot({ ...o(), name: 's' });
    const r = await run;
    expect(r.extensions).toBe(0);
  }, 10_000);
});

describe('the plan', () => {
  const limits = { minStep: 16 * MiB, max: Infinity, leadSeconds: 5, chunk: 4096 };
  it('does nothing with room to spare; grows when the headroom is gone or the store would fill within the lead time', () => {
    expect(decide({ used: MiB, total: 64 * MiB, rate: 0 }, limits)).toEqual({ action: 'none' });
    expect(decide({ used: 60 * MiB, total: 64 * MiB, rate: 0 }, limits)).toMatchObject({ action: 'extend', by: 16 * MiB });
    // 10 MiB/s with 40 MiB free: full in 4 s < 5 s: grow by 2 × 5 s × 10 MiB/s.
    expect(decide({ used: 24 * MiB, total: 64 * MiB, rate: 10 * MiB }, limits)).toMatchObject({ action: 'extend', by: 100 * MiB });
    // A slow extension lengthens the horizon.
    expect(decide({ used: 0, total: 64 * MiB, rate: 2 * MiB }, limits, 20)).toMatchObject({ action: 'extend', by: 240 * MiB });
  });
  it('never past --max, and says when it is there', () => {
    expect(decide({ used: 60 * MiB, total: 64 * MiB, rate: 0 }, { ...limits, max: 70 * MiB })).toMatchObject({ action: 'extend', by: 6 * MiB });
    expect(decide({ used: 60 * MiB, total: 64 * MiB, rate: 0 }, { ...limits, max: 64 * MiB }).action).toBe('at-max');
  });
  it('mustAct: within the act time at the rate, or down to the reserve', () => {
    expect(mustAct({ used: 60 * MiB, total: 64 * MiB, rate: MiB }, 2, MiB)).toBe(false);
    expect(mustAct({ used: 60 * MiB, total: 64 * MiB, rate: 3 * MiB }, 2, MiB)).toBe(true);
    expect(mustAct({ used: 63.5 * MiB, total: 64 * MiB, rate: 0 }, 2, MiB)).toBe(true);
  });
  it('keeps room for another burst as large as the largest seen, also once the page cache is empty again', () => {
    const limits = { minStep: 16 * MiB, max: Infinity, leadSeconds: 5, chunk: 4096 };
    // 32 MiB waited once (a writer that writes 32 MiB and syncs); now none waits, 20 MiB free.
    expect(decide({ used: 28 * MiB, total: 48 * MiB, rate: 0, pending: 0, burst: 32 * MiB }, limits)).toMatchObject({ action: 'extend', by: 28 * MiB });
    expect(decide({ used: 28 * MiB, total: 48 * MiB, rate: 0, pending: 0, burst: 0 }, limits)).toEqual({ action: 'none' });
  });
  it('never acts, and never grows, past what can still come (a writeback burst measured at 160 MiB/s over a store with room for all the rest)', () => {
    const limits = { minStep: 16 * MiB, max: Infinity, leadSeconds: 5, chunk: 4096 };
    const burst = { used: 126 * MiB, total: 377 * MiB, rate: 160 * MiB };
    // Unbounded, the burst says: full within 2 s, act; grow by 1.6 GiB.
    expect(mustAct(burst, 2, MiB)).toBe(true);
    expect(decide(burst, limits)).toMatchObject({ action: 'extend', by: 1600 * MiB });
    // At most 200 MiB more can come: 251 MiB free is room for all of it.
    expect(mustAct({ ...burst, toCome: 200 * MiB }, 2, MiB)).toBe(false);
    expect(decide({ ...burst, toCome: 200 * MiB }, limits)).toEqual({ action: 'none' });
    // 300 MiB can come: grow by what is missing and a headroom, not by the burst's 1.6 GiB.
    expect(decide({ ...burst, toCome: 300 * MiB }, limits)).toMatchObject({ action: 'extend', by: Math.ceil(((300 - 251) * MiB + (377 * MiB) / 10) / 4096) * 4096 });
    expect(mustAct({ ...burst, toCome: 300 * MiB }, 2, MiB)).toBe(true);
  });
  it('FillRate follows a rise at once and a fall gradually', () => {
    const r = new FillRate(1000);
    r.sample(0, 0);
    expect(r.sample(1000, 10 * MiB)).toBe(10 * MiB);
    const after = r.sample(2000, 11 * MiB);
    expect(after).toBeLessThan(10 * MiB);
    expect(after).toBeGreaterThan(MiB);
  });
});
