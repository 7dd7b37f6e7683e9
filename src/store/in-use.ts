/**
 * Who uses a store right now: its dm device of ours (`snapstore-NAME-cow`,
 * found by its uuid, through the device-mapper client) and any device whose
 * table uses that one (a snapshot over it), or a loop device over its file.
 * Other devices named for the same snapshot (its `-real`, or an update's
 * passthrough left open after its commit) do not touch the store. Asked of
 * the layers below, never of the commands that make them.
 */
import type { DeviceMapperApi } from '../dm/api.js';
import { sameDevice } from '../linux/device-number.js';
import { loopsOverFile } from '../linux/loop.js';
import { parseDmUuid, UUID_PREFIX } from '../state/names.js';

export function storeUsers(dm: DeviceMapperApi | undefined, name: string, file: string): string[] {
  const ours = (dm?.list(UUID_PREFIX) ?? []).filter((d) => parseDmUuid(d.uuid ?? '')?.name === name);
  const cow = ours.find((d) => parseDmUuid(d.uuid ?? '')?.role === 'cow');
  const overCow = cow ? ours.filter((d) => d !== cow && dm!.find(d.name)?.activeTable && dm!.deps(d.name).some((u) => sameDevice(u, cow.dev))) : [];
  return [...(cow ? [cow, ...overCow] : []).map((d) => `dm device ${d.name}`), ...loopsOverFile(file).map((loop) => `loop device ${loop}`)];
}
