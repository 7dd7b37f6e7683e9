/**
 * The boot counter of a health-gated commit (`create --boot-attempts N`): N
 * boots may try the update, and a health check that passes commits it. Each
 * boot is counted once, by the first `activate` in it (the kernel's boot id
 * tells a new boot from activate run again), before anything else activate
 * does for the snapshot: a boot cut short by a power loss counts too. The
 * activate that finds N boots counted and no commit (the N+1th boot) records
 * the rollback as pending, and activate's own path for a pending rollback
 * starts it there, before the filesystem is mounted. From then on the
 * rollback is decided: commit refuses.
 */
import { SnapstoreError } from '../errors.js';
import type { Operation } from './context.js';
import type { SnapshotManifest } from './manifest.js';
import { originLabel } from './manifest.js';
import { nothingToCommit } from './states.js';
import { updateDevice } from './update-stack.js';

/** What one activate did with a snapshot's budget. */
export interface BootCount {
  /**
   * counted: this boot is attempt `used`; same-boot: an activate earlier in
   * this boot counted it (or this boot made the snapshot: no attempt); spent:
   * `budget` boots went by without a commit, and the rollback starts now
   */
  readonly outcome: 'counted' | 'same-boot' | 'spent';
  readonly used: number;
  readonly budget: number;
  /** why, in a line: "boot attempt 2 of 3 (not yet committed)" */
  readonly message: string;
}

/** A budget as given (the library's number, the command line's text): a positive whole number of boots. */
export function bootBudget(value: number | string, what = 'bootAttempts'): number {
  const n = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : NaN;
  if (Number.isSafeInteger(n) && n >= 1) return n;
  throw new SnapstoreError('BAD_VALUE', `${what} "${value}" is not a positive whole number of boots`, {
    hint: 'e.g. --boot-attempts 3: three boots may try the update; if none of them commits it, the fourth rolls it back',
    usage: true,
  });
}

/** "3 boot attempts", "1 boot attempt". */
export const attempts = (n: number): string => `${n} boot attempt${n === 1 ? '' : 's'}`;

/**
 * Counts this boot for a snapshot with a budget, durably, before activate
 * does anything else for it; when the budget is spent, the rollback is
 * recorded as pending (activate then starts it). Only a live way back is
 * counted: a rollback pending or merging, a commit under way, need no budget.
 */
export function countBoot(op: Operation): BootCount | undefined {
  const m = op.manifest;
  const b = m.bootAttempts;
  if (b === undefined || m.state !== 'active') return undefined;
  const boot = op.platform.bootId();
  const report = (outcome: BootCount['outcome'], used: number, message: string): BootCount => ({ outcome, used, budget: b.budget, message });
  if (b.lastBoot === boot) {
    return report('same-boot', b.used, b.used === 0 ? `made in this boot, which is no attempt: the ${attempts(b.budget)} start with the next boot` : `boot attempt ${b.used} of ${b.budget}, counted already in this boot (not yet committed)`);
  }
  if (b.used < b.budget) {
    const used = b.used + 1;
    op.note({ bootAttempts: { ...b, used, lastBoot: boot } }, `boot attempt ${used} of ${b.budget} counted at activate`);
    return report('counted', used, `boot attempt ${used} of ${b.budget}${used === b.budget ? ', the last' : ''} (not yet committed${used === b.budget ? `: unless \`snapstore commit ${m.name}\` runs in this boot, the next one rolls back` : ''})`);
  }
  op.advance('rollback-pending', `${attempts(b.budget)} spent without a commit: activate rolls back`, { bootAttempts: { ...b, lastBoot: boot, spent: true } });
  const how =
    m.mode === 'update'
      ? `the update is dropped now, before anything mounts ${updateDevice(m.name)}; ${originLabel(m)} keeps the old contents`
      : `the merge runs now, before the filesystem on ${originLabel(m)} is mounted`;
  return report('spent', b.used, `${attempts(b.budget)} spent without a commit: rolling back (${how})`);
}

/**
 * Commit refuses once the budget was spent: the rollback was decided at boot
 * and may be under way. A snapshot the kernel invalidated is the exception
 * (no rollback can use it; commit cleans it up).
 */
export function refuseCommitWhenSpent(m: SnapshotManifest): void {
  const b = m.bootAttempts;
  if (!b?.spent || m.invalid) return;
  const origin = originLabel(m);
  const where: Partial<Record<SnapshotManifest['state'], [string, string]>> = {
    'rollback-pending': [
      'it starts at the next `snapstore activate`, before the filesystem is mounted',
      m.mode === 'checkpoint' ? `\`snapstore status ${m.name}\` shows it. To keep what is on ${origin} now anyway, drop the snapshot by hand before that boot: \`snapstore discard ${m.name}\`` : `\`snapstore status ${m.name}\` shows it`,
    ],
    merging: [`it is merging into ${origin}, and a merge only goes forward`, `\`snapstore rollback ${m.name} --wait\` finishes it; \`snapstore status\` shows its progress`],
    'rolling-back': ['the update is being dropped', '`snapstore recover` finishes it'],
    'rolled-back': [`it is done: ${origin} holds the contents from before the update`, nothingToCommit(m.mode)],
  };
  const refusal = where[m.state];
  if (refusal === undefined) return;
  throw new SnapstoreError('BAD_STATE', `snapshot "${m.name}" cannot be committed: its ${attempts(b.budget)} ${b.budget === 1 ? 'was' : 'were'} spent without a commit, and the rollback was decided at boot (${refusal[0]})`, { hint: refusal[1] });
}
