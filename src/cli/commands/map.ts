import { linearTableText } from '../../dm/table-text.js';
import { mapFileForTable } from '../../fiemap/map-file.js';
import { formatDeviceNumber } from '../../linux/device-number.js';
import { formatBytes, parseChunkSize } from '../../units/units.js';
import type { CommandContext } from '../context.js';

export interface MapOptions {
  file: string;
  chunkSize: string;
  json?: boolean;
}

export async function run(options: MapOptions, ctx: CommandContext): Promise<void> {
  const chunk = parseChunkSize(options.chunkSize);
  const map = mapFileForTable(options.file, chunk);
  const dev = formatDeviceNumber(map.device);
  // A mounted filesystem holds its device exclusively: a table over it is
  // refused with EBUSY, whether the device is a partition or a dm device.
  ctx.err(
    `warning: ${options.file} is on a mounted filesystem (device ${dev}); the kernel refuses a table over a mounted device (EBUSY). ` +
      '`snapstore store attach` maps through linear dm layers or falls back to a loop device.',
  );
  if (map.droppedBytes > 0) {
    ctx.err(`note: ${formatBytes(map.droppedBytes)} of unaligned extent edges left out; usable ${formatBytes(map.usableBytes)}`);
  }
  if (ctx.json) {
    ctx.result('map', {
      file: map.path,
      device: dev,
      filesystem: map.filesystem.type,
      fileSize: map.fileSize,
      chunkSize: chunk.bytes,
      usableBytes: map.usableBytes,
      droppedBytes: map.droppedBytes,
      rawExtents: map.rawExtentCount,
      segments: map.segments,
    });
    return;
  }
  const c = map.columns;
  ctx.outRaw(linearTableText({ count: c.count, start: c.storeOffset, length: c.length, offset: c.physical }, map.device));
}
