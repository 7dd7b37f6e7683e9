import { attachStore } from '../../store/attach.js';
import { formatBytes, plural } from '../../units/units.js';
import type { CommandContext } from '../context.js';

export interface StoreAttachOptions {
  name: string;
  stateDir: string;
  fallback?: boolean;
}

export async function run(options: StoreAttachOptions, ctx: CommandContext): Promise<void> {
  const r = await attachStore({
    stateDir: options.stateDir,
    name: options.name,
    noFallback: options.fallback === false,
    log: (line) => ctx.err(line),
  });
  ctx.out(
    `attached store "${r.name}" as ${r.device} (${formatBytes(r.size)}, ${plural(r.table.length, 'segment')}, ${r.via === 'loop' ? `through loop device ${r.loopDevice}` : 'mapped beneath the filesystem'})`,
  );
  ctx.result('store-attach', { name: r.name, device: r.device, dmName: r.dmName, via: r.via, loopDevice: r.loopDevice ?? null, sizeBytes: r.size, segments: r.table.length, notes: r.notes });
}
