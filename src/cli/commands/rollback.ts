import { rollbackSnapshot } from '../../snapshot/rollback.js';
import type { CommandContext } from '../context.js';
import { withMergeBar } from '../progress.js';
import { waitLockMs } from './lock-option.js';

export interface RollbackCommandOptions {
  name: string;
  wait?: boolean;
  offline?: boolean;
  keepStore?: boolean;
  waitLock?: string | boolean;
  stateDir: string;
}

export async function run(options: RollbackCommandOptions, ctx: CommandContext): Promise<void> {
  const r = await withMergeBar(ctx.progress.bind(ctx), (feed) =>
    rollbackSnapshot({
      name: options.name,
      wait: Boolean(options.wait),
      offline: Boolean(options.offline),
      keepStore: Boolean(options.keepStore),
      stateDir: options.stateDir,
      waitLockMs: waitLockMs(options.waitLock),
      log: (l) => ctx.err(l),
      ...feed,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    }),
  );
  ctx.result('rollback', r);
  ctx.out(r.message);
}
