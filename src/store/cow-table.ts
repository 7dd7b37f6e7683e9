/**
 * The store as a `linear` table over its filesystem's device, one segment a
 * line, in the text `dmsetup create` reads (512-byte sectors).
 */
import type { DeviceNumber } from '../linux/device-number.js';
import { formatDeviceNumber } from '../linux/device-number.js';
import type { StoreSegment } from '../fiemap/align.js';
import { bytesToSectors } from '../units/units.js';

export function linearTableLines(segments: readonly StoreSegment[], device: DeviceNumber): string[] {
  const dev = formatDeviceNumber(device);
  return segments.map(
    (s) => `${bytesToSectors(s.storeOffset)} ${bytesToSectors(s.length)} linear ${dev} ${bytesToSectors(s.physical)}`,
  );
}
