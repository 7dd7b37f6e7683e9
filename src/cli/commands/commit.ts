import { commitSnapshot } from '../../snapshot/commit.js';
import { formatBytes, sectorsToBytes, type Sectors } from '../../units/units.js';
import type { CommandContext } from '../context.js';
import { offlineMergeProgress } from '../progress.js';
import { waitLockMs } from './lock-option.js';

export interface CommitCommandOptions {
  name: string;
  wait?: boolean;
  offline?: boolean;
  waitLock?: string | boolean;
  stateDir: string;
}

export async function run(options: CommitCommandOptions, ctx: CommandContext): Promise<void> {
  const bar = ctx.progress('merging', (n) => formatBytes(sectorsToBytes(n as Sectors)));
  let r;
  try {
    r = await commitSnapshot({
      name: options.name,
      wait: Boolean(options.wait),
      offline: Boolean(options.offline),
      stateDir: options.stateDir,
      waitLockMs: waitLockMs(options.waitLock),
      log: (l) => ctx.err(l),
      onProgress: (p) => bar.update(p.initial - p.remaining, p.initial),
      onOfflineProgress: offlineMergeProgress(bar),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
  } finally {
    bar.stop();
  }
  ctx.result(r);
  ctx.out(r.message);
}
