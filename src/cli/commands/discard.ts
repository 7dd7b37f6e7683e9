import { discardSnapshot } from '../../snapshot/commit.js';
import type { CommandContext } from '../context.js';
import { waitLockMs } from './lock-option.js';

export interface DiscardCommandOptions {
  name: string;
  keepStore?: boolean;
  waitLock?: string | boolean;
  stateDir: string;
}

export async function run(options: DiscardCommandOptions, ctx: CommandContext): Promise<void> {
  const r = await discardSnapshot({ name: options.name, keepStore: Boolean(options.keepStore), stateDir: options.stateDir, waitLockMs: waitLockMs(options.waitLock), log: (l) => ctx.err(l) });
  ctx.result('discard', r);
  ctx.out(r.message);
}
