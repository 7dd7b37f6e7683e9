/**
 * Finding devices by a tag (a filesystem's UUID, a partition's PARTUUID) with blkid, among
 * the block devices that can be read now. A suspended dm device is left out: a read of it
 * waits until it is resumed (writes stopped by the watcher's abort, a merge cut by a
 * power-off), and blkid left to scan every device waited with it, for ever (seen in the
 * kernel tests: a rollback's last step hung while another snapshot's merge was suspended).
 */
import * as fs from 'node:fs';
import { SnapstoreError } from '../errors.js';
import { runProgram } from './run.js';

/** A blkid that has not answered by then is waiting on a device: said, not waited for. */
const BLKID_TIMEOUT_MS = 60_000;

/** `/dev/NAME` of every block device but the suspended dm devices. */
export function readableBlockDevices(): string[] {
  let names: string[];
  try {
    names = fs.readdirSync('/sys/class/block');
  } catch {
    return [];
  }
  return names.filter((n) => !isSuspended(n) && fs.existsSync(`/dev/${n}`)).map((n) => `/dev/${n}`);
}

function isSuspended(name: string): boolean {
  try {
    return fs.readFileSync(`/sys/class/block/${name}/dm/suspended`, 'utf8').trim() === '1';
  } catch {
    return false; // not a dm device
  }
}

/** The device nodes whose `tag` is `value` (blkid's names for them). */
export async function devicesWithTag(tag: 'UUID' | 'PARTUUID', value: string): Promise<string[]> {
  const nodes = readableBlockDevices();
  if (nodes.length === 0) return [];
  const r = await runProgram('blkid', ['-o', 'device', '-t', `${tag}=${value}`, ...nodes], { timeoutMs: BLKID_TIMEOUT_MS });
  if (r.timedOut) {
    throw new SnapstoreError('BLKID_TIMEOUT', `blkid did not answer within ${BLKID_TIMEOUT_MS / 1000} s while looking for ${tag}=${value}: a device it reads is not answering`, {
      hint: '`dmsetup info -c` shows suspended devices (a snapshot whose writes were stopped: `snapstore status`); resume or remove it, then run this again',
    });
  }
  return r.exitCode === 0 ? r.stdout.split('\n').filter(Boolean) : [];
}
