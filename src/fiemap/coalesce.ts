import type { Bytes } from '../units/units.js';
import { ExtentColumns } from './extent.js';

/**
 * Joins neighbours that are contiguous both in the file and on the device,
 * and clips the map at the file's size (the last block may run past it).
 * Flags are dropped: UNWRITTEN and written parts of one run are the same to
 * a raw mapping.
 */
export function coalesce(extents: ExtentColumns, fileSize: Bytes): ExtentColumns {
  const { logical, physical, length } = extents;
  const out = new ExtentColumns(Math.max(1, extents.count));
  let n = 0;
  for (let i = 0; i < extents.count; i++) {
    const l = logical[i]!;
    if (l >= fileSize) break;
    const len = Math.min(length[i]!, fileSize - l);
    if (n > 0 && out.logical[n - 1]! + out.length[n - 1]! === l && out.physical[n - 1]! + out.length[n - 1]! === physical[i]!) {
      out.length[n - 1]! += len;
    } else {
      out.push(l, physical[i]!, len, 0);
      n++;
    }
  }
  return out;
}
