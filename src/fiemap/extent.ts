import type { Bytes } from '../units/units.js';

/** One extent as FIEMAP reports it: file offset, device offset, length, fe_flags. */
export interface RawExtent {
  readonly logical: Bytes;
  readonly physical: Bytes;
  readonly length: Bytes;
  readonly flags: number;
}

/**
 * A stretch of the file that sits contiguously on the device: the unit the
 * store's map is made of. `logical` is the offset in the file (and so in the
 * store), `physical` the offset on the filesystem's block device.
 */
export interface Extent {
  readonly logical: Bytes;
  readonly physical: Bytes;
  readonly length: Bytes;
}
