/**
 * What every lifecycle operation works in: the platform (device-mapper and
 * the system), the state directory's lock, the snapshot's manifest and the
 * one way to move it to its next state (written before the act it
 * describes), and narration that is held back while a device is suspended
 * (our own output might go to a file on the suspended filesystem).
 */
import { DeviceMapper } from '../dm/client.js';
import { SnapstoreError } from '../errors.js';
import type { StateLock } from '../state/lock.js';
import { withStateLock } from '../state/lock.js';
import { StateDir } from '../state/state-dir.js';
import { faultPoint, withFaultPoints } from './faults.js';
import type { SnapshotManifest } from './manifest.js';
import { originLabel } from './manifest.js';
import { writeSnapshot } from './manifest.js';
import type { Platform } from './platform.js';
import { linuxPlatform } from './platform.js';
import type { SnapshotState } from './states.js';
import { checkTransition } from './states.js';

export interface LifecycleOptions {
  readonly stateDir: string;
  /** device-mapper and the system (default: the real ones) */
  readonly platform?: Platform;
  /** narration, one line per step */
  readonly log?: (line: string) => void;
  /** wait this long for another snapstore command to finish (default: refuse at once) */
  readonly waitLockMs?: number;
}

/** Runs `fn` with the platform given, or the real one (its device-mapper opened, and closed after). */
export async function withPlatform<T>(given: Platform | undefined, fn: (platform: Platform) => Promise<T> | T): Promise<T> {
  const own = given === undefined ? DeviceMapper.open() : undefined;
  try {
    return await fn(given ?? linuxPlatform(own!));
  } finally {
    own?.close();
  }
}

/** Runs `fn` with the platform and the lock: `create` makes the state directory if it is missing. */
export async function withLifecycle<T>(options: LifecycleOptions, create: boolean, fn: (platform: Platform, lock: StateLock) => Promise<T>): Promise<T> {
  const stateDir = create ? StateDir.ensure(options.stateDir, options.log) : StateDir.need(options.stateDir);
  const own = options.platform === undefined ? DeviceMapper.open() : undefined;
  const base = options.platform ?? linuxPlatform(own!);
  // The same platform, its device-mapper seen through the fault points (inert unless a test asks).
  const platform: Platform = Object.assign(Object.create(base) as Platform, { dm: withFaultPoints(base.dm) });
  try {
    return await withStateLock(stateDir, (lock) => fn(platform, lock), { waitMs: options.waitLockMs ?? 0 });
  } finally {
    own?.close();
  }
}

/** One operation on one snapshot. */
export class Operation {
  private held: string[] | undefined;

  constructor(
    readonly platform: Platform,
    readonly lock: StateLock,
    public manifest: SnapshotManifest,
    private readonly log: (line: string) => void,
  ) {}

  get dm() {
    return this.platform.dm;
  }

  get name(): string {
    return this.manifest.name;
  }

  /** The origin's dm name (a checkpoint's origin always has one; an update's may be a plain device). */
  get originDm(): string {
    const d = this.manifest.origin.dmName;
    if (d === undefined) throw new SnapstoreError('BAD_STATE', `the origin of snapshot "${this.name}" is no dm device (${originLabel(this.manifest)})`, { hint: 'this is an update-mode snapshot of a plain device' });
    return d;
  }

  /** Narration; held back while a device is suspended. */
  say(line: string): void {
    if (this.held) this.held.push(line);
    else this.log(line);
  }

  /**
   * Writes the manifest's next state (and any other change) durably: the
   * state machine's one way forward. Called before the act it describes.
   */
  advance(state: SnapshotState, note: string, change: Partial<SnapshotManifest> = {}): void {
    checkTransition(this.name, this.manifest.mode, this.manifest.state, state);
    const at = new Date().toISOString();
    const next: SnapshotManifest = { ...this.manifest, ...change, state, updatedAt: at, history: [...this.manifest.history, { at, state, note }] };
    faultPoint(`before:state ${state}`);
    writeSnapshot(this.lock, next);
    faultPoint(`after:state ${state}`);
    this.manifest = next;
  }

  /** Records a change that is not a new state (a flag), durably. */
  note(change: Partial<SnapshotManifest>, note: string): void {
    this.advance(this.manifest.state, note, change);
  }

  /**
   * Runs `fn` while device `name` is suspended: narration is held back (no
   * I/O of ours to a filesystem that may be frozen), and the device is
   * always resumed if `fn` fails (its inactive table dropped first).
   */
  async suspended<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
    // Nested (a stack suspended top down): the outermost call holds the narration.
    const outer = this.held === undefined;
    if (outer) this.held = [];
    try {
      this.dm.suspend(name);
      try {
        return await fn();
      } catch (err) {
        try {
          if (this.dm.find(name)?.inactiveTable) this.dm.clear(name);
          this.dm.resume(name);
        } catch {
          // the first error is the one to report; `snapstore recover` resumes what is left suspended
        }
        throw err;
      }
    } finally {
      if (outer) {
        const lines = this.held ?? [];
        this.held = undefined;
        for (const l of lines) this.log(l);
      }
    }
  }
}
