/**
 * Who uses a store right now: a dm device of ours named for it (found by
 * its uuid, through the device-mapper client), or a loop device over its
 * file. Asked of the layers below, never of the commands that make them.
 */
import type { DeviceMapperApi } from '../dm/api.js';
import { loopsOverFile } from '../linux/loop.js';
import { parseDmUuid, UUID_PREFIX } from '../state/names.js';

export function storeUsers(dm: DeviceMapperApi | undefined, name: string, file: string): string[] {
  const ours = (dm?.list(UUID_PREFIX) ?? []).filter((d) => parseDmUuid(d.uuid ?? '')?.name === name);
  return [...ours.map((d) => `dm device ${d.name}`), ...loopsOverFile(file).map((loop) => `loop device ${loop}`)];
}
