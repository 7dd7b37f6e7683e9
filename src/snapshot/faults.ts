/**
 * Fault points for the crash tests: every persisted step and every
 * device-mapper call of the lifecycle passes one, named `before:LABEL` and
 * `after:LABEL`. With SNAPSTORE_TEST_FAULT=LABEL set, the process kills
 * itself (SIGKILL) there, as a crash would; host tests install a handler
 * instead (a simulated crash that undoes nothing). Without either, a fault
 * point costs one comparison.
 */
import type { DeviceMapperApi } from '../dm/api.js';
import { NO_UNDO } from '../util/undo.js';

type Handler = (label: string) => void;
let handler: Handler | undefined;

/** Tests: call `h` at every fault point (undefined: back to the environment variable). */
export function setFaultHandler(h: Handler | undefined): void {
  handler = h;
}

/** An error standing for the process dying at `label`: nothing is undone for it. */
export class SimulatedCrash extends Error {
  readonly [NO_UNDO] = true;
  constructor(readonly label: string) {
    super(`simulated crash at ${label}`);
  }
}

export function faultPoint(label: string): void {
  if (handler) return handler(label);
  const want = process.env['SNAPSTORE_TEST_FAULT'];
  if (want !== undefined && want === label) process.kill(process.pid, 'SIGKILL');
}

const MUTATIONS = new Set(['create', 'load', 'suspend', 'resume', 'clear', 'remove', 'createDevice']);

/** The client with a fault point before and after each call that changes the kernel's state. */
export function withFaultPoints(dm: DeviceMapperApi): DeviceMapperApi {
  if (!handler && process.env['SNAPSTORE_TEST_FAULT'] === undefined) return dm;
  return new Proxy(dm, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof prop !== 'string' || !MUTATIONS.has(prop) || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const label = `dm.${prop} ${String(args[0])}`;
        faultPoint(`before:${label}`);
        const out = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (out instanceof Promise) return out.then((v) => (faultPoint(`after:${label}`), v));
        faultPoint(`after:${label}`);
        return out;
      };
    },
  });
}
