import { createSnapshot } from '../../snapshot/create.js';
import { attempts, bootBudget } from '../../snapshot/boot-attempts.js';
import { originLabel, type SnapshotMode } from '../../snapshot/manifest.js';
import { nodePath } from '../../dm/nodes.js';
import { stackNames } from '../../snapshot/stack.js';
import { updateDevice } from '../../snapshot/update-stack.js';
import { formatBytes, parseChunkSize } from '../../units/units.js';
import type { CommandContext } from '../context.js';
import { waitLockMs } from './lock-option.js';
import { startWatcher } from '../start-watcher.js';
import { newStoreSize } from '../sizes.js';

export interface CreateCommandOptions {
  name: string;
  origin: string;
  store: string;
  size: string;
  mode: string;
  chunkSize: string;
  dryRun?: boolean;
  fullProof?: boolean;
  watch?: boolean;
  bootAttempts?: string;
  waitLock?: string | boolean;
  stateDir: string;
}

export async function run(options: CreateCommandOptions, ctx: CommandContext): Promise<void> {
  const bootAttempts = options.bootAttempts === undefined ? undefined : bootBudget(options.bootAttempts, '--boot-attempts');
  const chunk = parseChunkSize(options.chunkSize);
  const size = newStoreSize(options.size, options.store, chunk);
  const r = await createSnapshot({
    name: options.name,
    origin: options.origin,
    store: options.store,
    size,
    chunk,
    mode: options.mode as SnapshotMode,
    dryRun: Boolean(options.dryRun),
    fullProof: Boolean(options.fullProof),
    ...(bootAttempts !== undefined ? { bootAttempts } : {}),
    stateDir: options.stateDir,
    waitLockMs: waitLockMs(options.waitLock),
    log: (line) => ctx.err(line),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  for (const w of r.warnings) ctx.err(`warning: ${w.message}; way out: ${w.hint}`);
  const warnings = r.warnings.length ? { warnings: r.warnings } : {};
  if (options.dryRun) {
    ctx.result('create', { dryRun: true, steps: r.plan.steps, tables: r.plan.tables, ...warnings });
    ctx.out(`dry run: snapshot "${options.name}" of ${options.origin} would be made by these steps (nothing was changed):`);
    r.plan.steps.forEach((s, i) => ctx.out(`  ${i + 1}. ${s}`));
    ctx.out('tables:');
    for (const t of r.plan.tables) ctx.out(`  ${t.device}:\n${t.table.split('\n').map((l) => `    ${l}`).join('\n')}`);
    return;
  }
  const m = r.manifest!;
  const device = nodePath(m.mode === 'update' ? updateDevice(m.name) : stackNames(m.name).snap);
  const watcher = options.watch ? await startWatcher(m.name, options.stateDir) : undefined;
  ctx.result('create', { name: m.name, mode: m.mode, state: m.state, origin: m.origin, store: m.store, chunkSize: m.chunkSize, snapshotDevice: device, ...(m.bootAttempts ? { bootAttempts: m.bootAttempts.budget } : {}), ...(watcher ? { watcher } : {}), ...warnings });
  const made = `${formatBytes(size)} store, chunk ${formatBytes(m.chunkSize)}`;
  ctx.out(
    m.mode === 'update'
      ? `created update snapshot "${m.name}" of ${originLabel(m)}: ${made}; write the update into ${device}, then reboot and \`snapstore activate\`; commit or roll back after (\`snapstore status ${m.name}\`)`
      : `created checkpoint "${m.name}" of ${originLabel(m)}: ${made}; commit or roll back after the update (\`snapstore status ${m.name}\`)`,
  );
  if (m.bootAttempts) ctx.out(`${attempts(m.bootAttempts.budget)} from the next boot on: \`snapstore commit ${m.name}\` once a boot is healthy; if none of them commits, the boot after them rolls back`);
  if (watcher) ctx.out(watcher);
}
