/**
 * The origin device as it is now, found from what the manifest recorded: a
 * dm device by its name (its uuid must agree), a plain device (update mode:
 * a partition, a disk) by its partition UUID, else its kernel name; its size
 * must agree in both cases, or it is another device and nothing is done.
 */
import type { DeviceInfo } from '../dm/api.js';
import { SnapstoreError } from '../errors.js';
import type { DeviceNumber } from '../linux/device-number.js';
import type { Operation } from './context.js';
import type { Platform } from './platform.js';
import { originLabel } from './manifest.js';
import { tableSectors } from './stack.js';
import { updateDevice } from './update-stack.js';

export interface OriginNow {
  readonly dev: DeviceNumber;
  /** set when the origin is a dm device */
  readonly dm: DeviceInfo | undefined;
}

const hintAtBoot = 'activate runs after the origin device is set up at boot (its passthrough, its partition) and before anything mounts it';

/** The origin now, or a refusal naming what was recorded and what is there instead. */
export async function findOrigin(op: Operation): Promise<OriginNow> {
  const o = op.manifest.origin;
  if (o.dmName !== undefined) {
    const info = op.dm.find(o.dmName);
    if (!info) {
      throw new SnapstoreError('ORIGIN_CHANGED', `the origin of snapshot "${op.name}", dm device ${o.dmName}, is not present`, { hint: hintAtBoot });
    }
    if (o.dmUuid !== '' && info.uuid !== o.dmUuid) {
      throw new SnapstoreError('ORIGIN_CHANGED', `dm device ${o.dmName} has uuid "${info.uuid}", not "${o.dmUuid}" as when snapshot "${op.name}" was made: it is another device`, {
        hint: 'nothing was changed; check which device carries that filesystem now',
      });
    }
    // A checkpoint's origin may carry our snapshot-origin table: its size is what `real` holds then.
    if (op.manifest.mode === 'update' && info.activeTable && tableSectors(op.dm.table(o.dmName)) !== o.sectors) {
      throw new SnapstoreError('ORIGIN_CHANGED', `dm device ${o.dmName} is ${tableSectors(op.dm.table(o.dmName))} sectors now, not ${o.sectors} as when snapshot "${op.name}" was made`, {
        hint: 'nothing was changed; the device was resized or replaced',
      });
    }
    return { dev: info.dev, dm: info };
  }
  const dev = await op.platform.findDevice({ ...(o.partUuid ? { partUuid: o.partUuid } : {}), ...(o.kernelName ? { kernelName: o.kernelName } : {}) });
  if (!dev) {
    throw new SnapstoreError('ORIGIN_CHANGED', `the origin of snapshot "${op.name}", ${o.partUuid ? `the partition with PARTUUID ${o.partUuid}` : originLabel(op.manifest)}, is not present`, { hint: hintAtBoot });
  }
  const now = await op.platform.describeDevice(dev);
  if (now.sectors !== o.sectors || (o.partUuid !== undefined && now.partUuid !== o.partUuid)) {
    throw new SnapstoreError(
      'ORIGIN_CHANGED',
      `/dev/${now.kernelName} is ${now.sectors} sectors${now.partUuid ? ` with PARTUUID ${now.partUuid}` : ''}, not ${o.sectors}${o.partUuid ? ` with PARTUUID ${o.partUuid}` : ''} as the origin of snapshot "${op.name}" was: it is another device`,
      { hint: 'nothing was changed; device names can change across reboots: check which device is the origin now' },
    );
  }
  return { dev, dm: undefined };
}

/**
 * Why nothing else may take the origin now (mounted, or held by a program or
 * a device that is not this update's own `snapstore-NAME`), or undefined.
 */
export async function originInUse(op: Operation, origin: OriginNow): Promise<string | undefined> {
  const mounted = op.platform.mountedAt(origin.dev);
  if (mounted !== undefined) return `it is mounted at ${mounted}`;
  const own = op.manifest.mode === 'update' ? updateDevice(op.name) : undefined;
  const ownHolds = own !== undefined && op.dm.find(own)?.activeTable === true ? 1 : 0;
  if (origin.dm && origin.dm.openCount > ownHolds) return `it is open (${origin.dm.openCount}): mounted, or held by a program or another device`;
  if (!origin.dm) {
    const holders = op.platform.holdersOf(origin.dev).filter((h) => h !== own);
    if (holders.length) return `it is held by ${holders.join(', ')}`;
  }
  return undefined;
}

/**
 * Where the filesystem on `dev` is mounted: on it, or on a device directly
 * above it (a crypt layer over an enrolled partition's passthrough: the
 * snapshot is beneath it), or undefined.
 */
export function mountedAbove(platform: Platform, dev: DeviceNumber): string | undefined {
  const here = platform.mountedAt(dev);
  if (here !== undefined) return here;
  for (const h of platform.holdersOf(dev)) {
    const above = platform.dm.find(h);
    const at = above ? platform.mountedAt(above.dev) : undefined;
    if (at !== undefined) return `${at} (through ${h})`;
  }
  return undefined;
}
