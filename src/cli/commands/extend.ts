import { extendSnapshot } from '../../snapshot/extend.js';
import { parseSize } from '../../units/units.js';
import { parseSizeOrShare } from '../../units/size-spec.js';
import type { CommandContext } from '../context.js';
import { waitLockMs } from './lock-option.js';

export interface ExtendCommandOptions {
  name: string;
  by?: string;
  to?: string;
  keepFree?: string;
  waitLock?: string | boolean;
  stateDir: string;
}

export async function run(options: ExtendCommandOptions, ctx: CommandContext): Promise<void> {
  const r = await extendSnapshot({
    name: options.name,
    ...(options.by !== undefined ? { by: parseSize(options.by) } : {}),
    ...(options.to !== undefined ? { to: parseSize(options.to) } : {}),
    ...(options.keepFree !== undefined ? { keepFree: parseSizeOrShare(options.keepFree) } : {}),
    stateDir: options.stateDir,
    waitLockMs: waitLockMs(options.waitLock),
    log: (l) => ctx.err(l),
  });
  ctx.result(r);
  ctx.out(r.message);
}
