import { commitSnapshot } from '../../snapshot/commit.js';
import type { CommandContext } from '../context.js';
import { waitLockMs } from './lock-option.js';

export interface CommitCommandOptions {
  name: string;
  waitLock?: string | boolean;
  stateDir: string;
}

export async function run(options: CommitCommandOptions, ctx: CommandContext): Promise<void> {
  const r = await commitSnapshot({ name: options.name, stateDir: options.stateDir, waitLockMs: waitLockMs(options.waitLock), log: (l) => ctx.err(l) });
  ctx.result(r);
  ctx.out(r.message);
}
