// The "system" of the boot-counter tests (boots 1 to 3 of lifecycle.test.ts): three data
// filesystems on parts of one disk (dm linear devices, as a system's passthroughs), each
// checkpointed with a boot budget before an update, each with a state directory of its
// own on a fourth part, driven through the CLI as an update agent would:
//   bu  --boot-attempts 1, never committed: boot 2 counts, boot 3 rolls back on its own
//   bh  --boot-attempts 2, healthy: boot 2 counts and commits
//   bp  --boot-attempts 2, the power lost during boot 2's activate (killed right after the
//       count): boot 3 counts the second attempt, and commits
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { guestDisk, run } from '../vm/guest.js';

export const BMETA = '/tmp/mnt/bmeta';
export const BOOTS = [
  { key: 'bu', budget: 1 },
  { key: 'bh', budget: 2 },
  { key: 'bp', budget: 2 },
] as const;
export type BootKey = (typeof BOOTS)[number]['key'];

export const bmnt = (key: string): string => `/tmp/mnt/${key}`;
export const bdev = (key: string): string => `/dev/mapper/bt-${key}`;
export const bstate = (key: string): string => `${BMETA}/${key}`;

/** Where each part lies on the one disk `bt` (MiB): the metadata, then the three data filesystems. */
const PARTS = [
  { name: 'meta', at: 0, size: 32 },
  { name: 'bu', at: 32, size: 64 },
  { name: 'bh', at: 96, size: 64 },
  { name: 'bp', at: 160, size: 64 },
] as const;

/** What every boot does first: a dm linear device over each part of the disk, the metadata mounted. */
export function bootSystem(format: boolean): void {
  const d = guestDisk('bt');
  for (const p of PARTS) run('dmsetup', ['create', `bt-${p.name}`, '--table', `0 ${p.size * 2048} linear ${d} ${p.at * 2048}`]);
  if (format) run('mkfs.ext4', ['-q', '-F', bdev('meta')]);
  fs.mkdirSync(BMETA, { recursive: true });
  run('mount', [bdev('meta'), BMETA]);
  for (const { key } of BOOTS) fs.mkdirSync(bmnt(key), { recursive: true }); // the guest's /tmp is new at every boot
}

/** `snapstore ARGS --state-dir` of snapshot `key`, as an update agent runs it; its exit, output and JSON. */
export function snapstore(key: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync('node', ['bin/snapstore', ...args, '--state-dir', bstate(key)], { encoding: 'utf8', env: { ...process.env, ...env } });
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, json, said: `exit ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}` };
}

/** The activation result of snapshot `key` in `activate --json`'s output. */
export function activation(json: unknown, key: string): { action: string; bootAttempts?: { outcome: string; used: number; budget: number; message: string } } | undefined {
  return (json as { snapshots?: Array<{ name: string; action: string }> } | undefined)?.snapshots?.find((a) => a.name === key);
}
