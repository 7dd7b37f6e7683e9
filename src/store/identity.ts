/**
 * A device's stable identity: what still names it after a reboot, when
 * major:minor and dm-N may have changed (docs/design.md "Stable identity").
 */
import { SnapstoreError } from '../errors.js';
import { devicesWithTag } from '../linux/blkid.js';
import { runProgram } from '../linux/run.js';
import * as fs from 'node:fs';
import type { BlockDeviceInfo } from '../linux/blockdev.js';
import { blockDeviceInfo } from '../linux/blockdev.js';
import { fromDevT } from '../linux/device-number.js';
import { formatDeviceNumber } from '../linux/device-number.js';

export interface DeviceIdentity {
  /** filesystem UUID (blkid UUID) */
  readonly fsUuid?: string;
  readonly fsType?: string;
  /** GPT/MBR partition UUID (blkid PART_ENTRY_UUID) */
  readonly partUuid?: string;
  readonly dmName?: string;
  readonly dmUuid?: string;
  /** as seen when recorded; informational only, can change across reboots */
  readonly devNumber: string;
  readonly kernelName: string;
}

/** `blkid -o export` output: one KEY=value per line. */
export function parseBlkidExport(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}

export async function deviceIdentity(info: BlockDeviceInfo): Promise<DeviceIdentity> {
  // -p probes the device itself rather than trusting a cache udev may not keep.
  const probe = await runProgram('blkid', ['-p', '-o', 'export', info.node]);
  const tags = parseBlkidExport(probe.stdout);
  const id: DeviceIdentity = {
    ...(tags.get('UUID') ? { fsUuid: tags.get('UUID') } : {}),
    ...(tags.get('TYPE') ? { fsType: tags.get('TYPE') } : {}),
    ...(tags.get('PART_ENTRY_UUID') ? { partUuid: tags.get('PART_ENTRY_UUID') } : {}),
    ...(info.dm ? { dmName: info.dm.name, ...(info.dm.uuid ? { dmUuid: info.dm.uuid } : {}) } : {}),
    devNumber: formatDeviceNumber(info.dev),
    kernelName: info.name,
  };
  if (!id.fsUuid && !id.partUuid && !id.dmUuid && !id.dmName) {
    throw new SnapstoreError(
      'NO_STABLE_ID',
      `device ${info.node} (${id.devNumber}) has no filesystem UUID, partition UUID or dm name that blkid or sysfs can read; a manifest naming it by number would break after a reboot`,
      { hint: 'give the filesystem a UUID (tune2fs -U / xfs_admin -U) or use a device with a stable name' },
    );
  }
  return id;
}

/**
 * Whether `now` is the device `recorded` names: every stable field the record
 * has must be the same on it (a missing one is a mismatch: the disk under a dm
 * passthrough carries the same filesystem UUID, but not the dm name).
 */
export function sameIdentity(now: DeviceIdentity, recorded: DeviceIdentity): boolean {
  const keys = ['fsUuid', 'partUuid', 'dmUuid', 'dmName'] as const;
  const present = keys.filter((k) => recorded[k] !== undefined);
  return present.length > 0 && present.every((k) => now[k] === recorded[k]);
}

/** Devices whose blkid tag has this value (blkid -t scans them; no udev needed). */
function infoOfNode(node: string): BlockDeviceInfo {
  return blockDeviceInfo(fromDevT(fs.statSync(node, { bigint: true }).rdev));
}

/**
 * Finds the device a manifest names, by what survives a reboot: the dm name,
 * else the filesystem UUID, else the partition UUID. Several devices can
 * carry one filesystem UUID (a snapshot carries its origin's): then only one
 * whose stable fields all agree is taken, and more than one is refused.
 */
export async function resolveDevice(id: DeviceIdentity): Promise<BlockDeviceInfo> {
  const candidates = new Set<string>();
  if (id.dmName && fs.existsSync(`/dev/mapper/${id.dmName}`)) candidates.add(`/dev/mapper/${id.dmName}`);
  if (id.fsUuid) for (const d of await devicesWithTag('UUID', id.fsUuid)) candidates.add(d);
  if (id.partUuid) for (const d of await devicesWithTag('PARTUUID', id.partUuid)) candidates.add(d);
  const matches = new Map<string, BlockDeviceInfo>();
  for (const node of candidates) {
    // blkid's cache can name a device that is gone, or one that no longer carries anything stable: not a candidate.
    let info: BlockDeviceInfo;
    let now: DeviceIdentity;
    try {
      info = infoOfNode(node);
      now = await deviceIdentity(info);
    } catch (err) {
      if (err instanceof SnapstoreError || (err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    if (sameIdentity(now, id)) matches.set(info.name, info);
  }
  const found = [...matches.values()];
  if (found.length === 1) return found[0]!;
  const named = `the device ${JSON.stringify({ fsUuid: id.fsUuid, partUuid: id.partUuid, dmName: id.dmName })}`;
  if (found.length === 0) {
    throw new SnapstoreError('DEVICE_NOT_FOUND', `${named} is not present (last seen as ${id.kernelName}, ${id.devNumber})`, {
      hint: 'attach or activate the device that holds the store first',
    });
  }
  throw new SnapstoreError('DEVICE_AMBIGUOUS', `${named} matches ${found.map((f) => f.node).join(', ')}: not sure which one holds the store`, {
    hint: 'deactivate the other devices carrying the same filesystem (snapshots of it), or give the device explicitly with --cow',
  });
}
