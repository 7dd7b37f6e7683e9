import type { DeviceMapperApi } from './api.js';
import { DeviceMapper } from './client.js';
import { DmError } from './errors.js';

/**
 * The device-mapper client, or undefined on a system without device-mapper
 * (a recovery system, a kernel without dm-mod): there nothing can be stacked.
 */
export function deviceMapperIfPresent(): DeviceMapperApi | undefined {
  try {
    return DeviceMapper.open();
  } catch (err) {
    if (err instanceof DmError && (err.code === 'ENOENT' || err.code === 'ENODEV' || err.code === 'ENXIO')) return undefined;
    throw err;
  }
}
