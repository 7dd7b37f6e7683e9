// Setup for every guest file (vitest.guest.config.ts). Each test's start and end go to the
// kernel log at error level, so they reach the serial console: when a boot times out, the
// console tail the host prints says which test was running beside the kernel's own messages.
// A failed test may leave a device suspended (a policy that stopped writes, a step cut
// short): the devices it suspended are resumed after it, so that the next test does not
// wait for ever behind them. Devices suspended before it began stay so (a test may leave
// one suspended on purpose for the next boot: a merge cut by the power-off).
import { spawnSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { afterEach, beforeEach } from 'vitest';

const say = (text: string) => {
  try {
    appendFileSync('/dev/kmsg', `<3>snapstore-test: ${text.replace(/\s+/g, ' ').slice(0, 300)}\n`);
  } catch {
    // no /dev/kmsg (not in the guest): nothing to mark
  }
};

/** Names of the suspended dm devices. */
function suspended(): Set<string> {
  const listed = spawnSync('dmsetup', ['info', '-c', '--noheadings', '-o', 'name,suspended', '--separator', ' '], { encoding: 'utf8' });
  const names = new Set<string>();
  for (const line of (listed.stdout ?? '').split('\n')) {
    const [name, state] = line.trim().split(' ');
    if (name && state === 'Suspended') names.add(name);
  }
  return names;
}

let before = new Set<string>();
beforeEach((ctx) => {
  say(`start: ${ctx.task.name}`);
  before = suspended();
});

afterEach((ctx) => {
  const state = ctx.task.result?.state ?? 'unknown';
  say(`end (${state}): ${ctx.task.name}`);
  if (state !== 'fail') return;
  for (const name of suspended()) {
    if (before.has(name)) continue;
    say(`after the failure: resuming ${name}`);
    spawnSync('dmsetup', ['resume', name], { stdio: 'ignore', timeout: 30_000 });
  }
});
