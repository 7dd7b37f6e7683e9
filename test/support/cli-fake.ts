/**
 * The whole CLI in this process (argv, commander, the command, the library,
 * the exit code), on the fake system of test/support/fake-platform.ts
 * instead of the kernel. A test file wires it with two lines, which vitest
 * hoists above its imports:
 *
 *   vi.mock('../../src/snapshot/platform.js', fakePlatformModule);
 *   vi.mock('../../src/dm/client.js', fakeClientModule);
 *
 * and then runs `cli([...argv])`; `system.platform` is the machine the
 * commands see (a new one with `newSystem()`).
 */
import type { DeviceMapperApi } from '../../src/dm/api.js';
import { execute } from '../../src/cli/main.js';
import { capture } from './capture.js';
import { FakePlatform } from './fake-platform.js';

export const system = { platform: new FakePlatform() };

/** A machine freshly booted: the origin `data` and nothing of ours. */
export function newSystem(): FakePlatform {
  system.platform = new FakePlatform();
  return system.platform;
}

/**
 * The fake's device-mapper as DeviceMapper.open() gives it: with the ioctl
 * interface's version (doctor reports it), and a close() (after each
 * command) that does not end the machine.
 */
const opened = (dm: DeviceMapperApi): DeviceMapperApi => Object.assign(Object.create(dm) as DeviceMapperApi, { interfaceVersion: [4, 47, 0], close() {} });

export async function fakePlatformModule(original: () => Promise<unknown>) {
  return { ...(await original() as object), linuxPlatform: () => system.platform };
}

export async function fakeClientModule(original: () => Promise<unknown>) {
  return { ...(await original() as object), DeviceMapper: { open: () => opened(system.platform.dm) } };
}

/** Runs one command line; its exit code and what it printed. */
export async function cli(argv: string[], opts: { signal?: AbortSignal } = {}) {
  const c = capture({ json: argv.includes('--json'), quiet: argv.includes('--quiet') || argv.includes('-q'), ...opts });
  const code = await execute(argv, c.ctx);
  return { code, out: c.out, err: c.err, errors: c.errors, results: c.results, json: c.results[0] as Record<string, unknown> | undefined };
}
