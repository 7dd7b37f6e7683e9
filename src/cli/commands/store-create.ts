import { createStore } from '../../store/create.js';
import { formatBytes, parseChunkSize, plural } from '../../units/units.js';
import { newStoreSize } from '../sizes.js';
import type { CommandContext } from '../context.js';

export interface StoreCreateOptions {
  name: string;
  store: string;
  size: string;
  chunkSize: string;
  zero?: boolean;
  fullProof?: boolean;
  stateDir: string;
}

export async function run(options: StoreCreateOptions, ctx: CommandContext): Promise<void> {
  const chunk = parseChunkSize(options.chunkSize);
  const size = newStoreSize(options.size, options.store, chunk);
  const progress = ctx.progress('zeroing', formatBytes);
  let manifest;
  try {
    manifest = await createStore({
      name: options.name,
      file: options.store,
      size,
      chunk,
      stateDir: options.stateDir,
      zero: Boolean(options.zero),
      fullProof: Boolean(options.fullProof),
      log: (line) => ctx.err(line),
      onProgress: (done, total) => progress.update(done, total),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
  } finally {
    progress.stop();
  }
  ctx.out(
    `created store "${manifest.name}": ${manifest.file}, ${formatBytes(manifest.usableBytes)} usable in ${plural(manifest.segments.length, 'segment')}, chunk ${formatBytes(manifest.chunkSize)}, immutable, map proved (${manifest.provedSegments === manifest.segments.length ? 'every segment' : `${manifest.provedSegments} segments spread over the device`})`,
  );
  ctx.result('store-create', {
    name: manifest.name,
    file: manifest.file,
    fileSize: manifest.fileSize,
    usableBytes: manifest.usableBytes,
    droppedBytes: manifest.droppedBytes,
    chunkSize: manifest.chunkSize,
    segments: manifest.segments.length,
    device: manifest.device,
    mapSha256: manifest.mapSha256,
    provedSegments: manifest.provedSegments,
  });
}
