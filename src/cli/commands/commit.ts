import { commitSnapshot } from '../../snapshot/commit.js';
import type { CommandContext } from '../context.js';
import { withMergeBar } from '../progress.js';
import { waitLockMs } from './lock-option.js';

export interface CommitCommandOptions {
  name: string;
  wait?: boolean;
  offline?: boolean;
  waitLock?: string | boolean;
  stateDir: string;
}

export async function run(options: CommitCommandOptions, ctx: CommandContext): Promise<void> {
  const r = await withMergeBar(ctx.progress.bind(ctx), (feed) =>
    commitSnapshot({
      name: options.name,
      wait: Boolean(options.wait),
      offline: Boolean(options.offline),
      stateDir: options.stateDir,
      waitLockMs: waitLockMs(options.waitLock),
      log: (l) => ctx.err(l),
      ...feed,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    }),
  );
  ctx.result('commit', r);
  ctx.out(r.message);
}
