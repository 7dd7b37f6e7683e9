import { snapshotStatus, type SnapshotReport } from '../../snapshot/status.js';
import { formatBytes } from '../../units/units.js';
import type { CommandContext } from '../context.js';

export interface StatusCommandOptions {
  name?: string;
  stateDir: string;
}

/** Columns padded to their widest cell, as `lvs` prints them. */
function columns(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

function row(s: SnapshotReport): string[] {
  const used = s.usage ? `${formatBytes(s.usage.used)} (${s.usage.usedPercent}%)` : s.mergeRemaining !== null ? `${formatBytes(s.mergeRemaining)} to merge` : '-';
  const boots = s.bootAttempts ? `${s.bootAttempts.used}/${s.bootAttempts.budget}${s.bootAttempts.spent ? ' spent' : ''}` : '-';
  return [s.name, s.mode, s.state, s.origin.dmName ?? s.origin.device, s.store.size !== null ? formatBytes(s.store.size) : '-', used, s.usage ? formatBytes(s.usage.free) : '-', formatBytes(s.chunkSize), boots, s.health, s.agrees ? (s.busy?.unsettled.length ? 'busy' : 'yes') : 'NO'];
}

/** The boot budget of a health-gated commit, for `status NAME`. */
function bootsText(s: SnapshotReport, b: NonNullable<SnapshotReport['bootAttempts']>): string {
  const used = `${b.used} of ${b.budget} boot attempts used`;
  if (b.spent) return `${used} without a commit: activate rolled back`;
  if (s.state === 'committed') return `${used}; committed`;
  if (s.state !== 'active') return used;
  return `${used}, not yet committed: ${b.used < b.budget ? `\`snapstore commit ${s.name}\` once a boot is healthy` : `unless it is committed in this boot, the next one rolls back`}`;
}

function fillText(s: SnapshotReport): string {
  if (!s.fill) return 'rate unknown (`snapstore watch` measures it)';
  const rate = `${formatBytes(s.fill.bytesPerSecond)}/s`;
  if (s.fill.secondsToFull === null) return `${rate} (not filling), measured ${s.fill.measuredAt}`;
  return `${rate}, full in about ${formatDuration(s.fill.secondsToFull)} at that rate (measured ${s.fill.measuredAt})`;
}

function formatDuration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

export async function run(options: StatusCommandOptions, ctx: CommandContext): Promise<void> {
  const reports = snapshotStatus({ stateDir: options.stateDir, ...(options.name !== undefined ? { name: options.name } : {}) });
  ctx.result('status', { snapshots: reports });
  if (reports.length === 0) {
    ctx.out(`no snapshots in ${options.stateDir}`);
    return;
  }
  for (const line of columns([['NAME', 'MODE', 'STATE', 'ORIGIN', 'STORE', 'USED', 'FREE', 'CHUNK', 'BOOTS', 'HEALTH', 'AGREES'], ...reports.map(row)])) ctx.out(line);
  for (const s of reports) {
    if (options.name !== undefined) {
      ctx.out('');
      ctx.out(`  origin:    ${s.origin.device}`);
      if (s.snapshotDevice) ctx.out(`  snapshot:  ${s.snapshotDevice} (${s.mode === 'update' ? 'the contents with the update' : 'the contents before the update, read-only use'})`);
      ctx.out(`  store:     ${s.store.file ?? '(deleted)'}${s.store.pending ? ' (waits for its filesystem to be deleted)' : ''}`);
      if (s.usage) ctx.out(`  filling:   ${fillText(s)}`);
      if (s.bootAttempts) ctx.out(`  boots:     ${bootsText(s, s.bootAttempts)}`);
      ctx.out(`  created:   ${s.createdAt}; last change ${s.updatedAt}`);
    }
    for (const p of s.problems) ctx.out(`  ${s.name}: ${p}`);
    for (const u of s.busy?.unsettled ?? []) ctx.out(`  ${s.name}: ${u}: in progress, pid ${s.busy!.pid} holds the state lock (run status again once it ends)`);
  }
}
