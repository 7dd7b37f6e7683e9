import { detachStore } from '../../store/attach.js';
import type { CommandContext } from '../context.js';

export interface StoreDetachOptions {
  name: string;
  stateDir: string;
}

export async function run(options: StoreDetachOptions, ctx: CommandContext): Promise<void> {
  const r = await detachStore({ stateDir: options.stateDir, name: options.name });
  ctx.out(
    r.detached
      ? `detached store "${r.name}"${r.loopsDetached.length ? ` (loop ${r.loopsDetached.join(', ')} released)` : ''}; the file is immutable again`
      : `store "${r.name}" was not attached; nothing changed`,
  );
  if (r.othersLoops.length) ctx.err(`note: ${r.othersLoops.join(', ')} over the store file were not made by snapstore and were left alone`);
  ctx.result('store-detach', r);
}
