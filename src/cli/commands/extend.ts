import { extendSnapshot } from '../../snapshot/extend.js';
import { parseSizeOrShare } from '../../units/size-spec.js';
import type { CommandContext } from '../context.js';
import { resolveOption, snapshotStore } from '../sizes.js';
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
  // A share is of the filesystem the store file is on, in whole chunks of the store.
  const store = () => snapshotStore(options.stateDir, options.name);
  const r = await extendSnapshot({
    name: options.name,
    ...(options.by !== undefined ? { by: resolveOption('--by', options.by, store) } : {}),
    ...(options.to !== undefined ? { to: resolveOption('--to', options.to, store) } : {}),
    ...(options.keepFree !== undefined ? { keepFree: parseSizeOrShare(options.keepFree, '--keep-free') } : {}),
    stateDir: options.stateDir,
    waitLockMs: waitLockMs(options.waitLock),
    log: (l) => ctx.err(l),
  });
  ctx.result('extend', r);
  ctx.out(r.message);
}
