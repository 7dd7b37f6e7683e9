/**
 * Every name snapstore gives the kernel and the disk, spelled once: the dm
 * devices of a store or snapshot NAME (`snapstore-NAME-ROLE`, uuid
 * `SNAPSTORE-NAME-ROLE`: the kernel can list what is ours by the uuid
 * prefix), and the files of the state directory.
 */
import * as path from 'node:path';
import { SnapstoreError } from '../errors.js';

/** Names become file names and dm device names: keep them plain. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,47}$/;

export function checkName(name: string, what = 'store'): string {
  if (!NAME.test(name)) {
    throw new SnapstoreError('BAD_NAME', `${what} name "${name}" is not allowed: use 1 to 48 letters, digits, '.', '_' or '-', starting with a letter or digit`, {
      hint: `pick a name like "rollback" or "update-42"`,
      usage: true,
    });
  }
  return name;
}

/** The uuid prefix of every dm device we make. */
export const UUID_PREFIX = 'SNAPSTORE-';
const NAME_PREFIX = 'snapstore-';

/**
 * What a dm device of ours is for: `cow` the store as a block device, `real`
 * the origin's own table moved aside, `snap` the snapshot, `update` the
 * writable snapshot of update mode, which the system mounts, `view` a
 * read-only device over a checkpoint's snapshot that `diff` mounts for the
 * while, and `origin` an
 * enrolled partition's passthrough, which the system mounts from boot on
 * (both named `snapstore-NAME`, no suffix: one namespace for the two).
 */
export type DeviceRole = 'cow' | 'real' | 'snap' | 'origin' | 'update' | 'view';
export const DEVICE_ROLES: readonly DeviceRole[] = ['cow', 'real', 'snap', 'origin', 'update', 'view'];

/** The roles whose device is named `snapstore-NAME` itself. */
const BARE: readonly DeviceRole[] = ['update', 'origin'];

export const dmName = (name: string, role: DeviceRole): string => (BARE.includes(role) ? `${NAME_PREFIX}${name}` : `${NAME_PREFIX}${name}-${role}`);

/** A name that would make a bare-named device named like another's suffixed one (`x-cow`). */
export const endsLikeARole = (name: string): boolean => DEVICE_ROLES.some((r) => !BARE.includes(r) && name.endsWith(`-${r}`));
export const dmUuid = (name: string, role: DeviceRole): string => `${UUID_PREFIX}${name}-${role}`;

/** The name and role of a dm uuid of ours, or undefined for anyone else's. */
export function parseDmUuid(uuid: string): { name: string; role: DeviceRole } | undefined {
  if (!uuid.startsWith(UUID_PREFIX)) return undefined;
  const rest = uuid.slice(UUID_PREFIX.length);
  const dash = rest.lastIndexOf('-');
  const role = rest.slice(dash + 1) as DeviceRole;
  if (dash <= 0 || !DEVICE_ROLES.includes(role)) return undefined;
  return { name: rest.slice(0, dash), role };
}

/** Whether a dm device name is one of ours for `name` (any role). */
export const isDmNameOf = (dm: string, name: string): boolean => DEVICE_ROLES.some((r) => dm === dmName(name, r));

/** Files and folders of the state directory. */
export const statePaths = {
  lock: (stateDir: string): string => path.join(stateDir, 'lock'),
  stores: (stateDir: string): string => path.join(stateDir, 'stores'),
  storeManifest: (stateDir: string, name: string): string => path.join(stateDir, 'stores', `${name}.json`),
  snapshots: (stateDir: string): string => path.join(stateDir, 'snapshots'),
  snapshotManifest: (stateDir: string, name: string): string => path.join(stateDir, 'snapshots', `${name}.json`),
  enrolled: (stateDir: string): string => path.join(stateDir, 'enrolled'),
  fillRecord: (stateDir: string, name: string): string => path.join(stateDir, 'watch', `${name}.json`),
  enrolledRecord: (stateDir: string, name: string): string => path.join(stateDir, 'enrolled', `${name}.json`),
  /** An intent record: `op` on `name` under way (e.g. `stores/NAME.creating`). */
  intent: (folder: string, name: string, op: string): string => path.join(folder, `${name}.${op}`),
};
