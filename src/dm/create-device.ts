import { withUndo } from '../util/undo.js';
import type { DeviceInfo, DeviceMapperApi } from './api.js';
import type { Table } from './targets.js';

/**
 * create + load + resume, and the /dev/mapper node, as one step: if any part
 * fails, the device is removed again and the error says so.
 */
export async function createDevice(dm: DeviceMapperApi, name: string, uuid: string, table: Table, options: { readOnly?: boolean } = {}): Promise<DeviceInfo> {
  return withUndo(async (undo) => {
    dm.create(name, uuid, options);
    undo.push(`dm device ${name}`, () => dm.remove(name));
    dm.load(name, table, options);
    const info = dm.resume(name);
    await dm.ensureNode(name, info.dev);
    return info;
  });
}
