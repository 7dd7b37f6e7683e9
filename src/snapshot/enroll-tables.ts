/**
 * enroll's edit of the boot's tables: the fstab entry of an enrolled
 * filesystem (the crypttab entry, for LUKS) is pointed at the passthrough,
 * so that the next boot mounts it through `/dev/mapper/snapstore-NAME` with
 * no hand edit; the line it was stays above it as a comment, and `unenroll`
 * puts it back. The entry must name the dm device: a `UUID=` (or `LABEL=`)
 * would match the partition too, which carries the same filesystem, and
 * which of the two a mount then gets depends on the order devices were
 * probed in. fstab is root's: one that others could write, or a symbolic
 * link (a rename would replace the link, not its target), is not edited.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SnapstoreError } from '../errors.js';
import { fromNodeError } from '../linux/errors.js';
import { restoreSource, rewriteSource, sourceNames, type TableKind } from '../linux/fstab.js';
import { writeFileAtomic } from '../state/files.js';
import { lstatOrNone } from '../state/trust.js';

export interface BootTables {
  readonly fstab: string;
  readonly crypttab: string;
}
export const SYSTEM_TABLES: BootTables = { fstab: '/etc/fstab', crypttab: '/etc/crypttab' };

/** The names the enrolled partition goes by, to find the entry that names it. */
export interface PartitionNames {
  readonly fsUuid?: string | undefined;
  readonly fsLabel?: string | undefined;
  readonly partUuid?: string | undefined;
  readonly partLabel?: string | undefined;
  /** whether a path is the partition's device node */
  readonly isDevice: (p: string) => boolean;
}

/** What becomes of the fstab (crypttab) entry. */
export interface TableOutcome {
  readonly file: string;
  /** rewritten: the line changes; already: it names the passthrough (a rerun); manual: the user must (`why`) */
  readonly outcome: 'rewritten' | 'already' | 'manual';
  readonly before?: string;
  readonly after?: string;
  readonly why?: string;
}

/** An edit worked out before anything is made, written after the record (`apply`). */
export interface TablePlan {
  readonly table: TableOutcome;
  readonly apply: () => void;
}

const nothingToWrite = () => {};

const tag = (name: string): string => `snapstore enroll "${name}"`;

/** The table's text, when it is root's alone; undefined when it does not exist. */
function readTable(file: string): { text: string; mode: number } | undefined {
  const st = lstatOrNone(file);
  if (!st) return undefined;
  const refuse = (why: string, hint: string) => new SnapstoreError('TABLE_UNTRUSTED', `${file} ${why}: snapstore, as root, does not edit it`, { hint });
  if (st.isSymbolicLink()) throw refuse('is a symbolic link', `give the file it points to (--${path.basename(file)} ${fs.realpathSync(file)}), or --print-only and edit it yourself`);
  if (!st.isFile()) throw refuse('is not a regular file', 'give the file with --fstab/--crypttab, or --print-only');
  const dir = fs.statSync(path.dirname(file));
  for (const [what, s] of [[file, st], [path.dirname(file), dir]] as const) {
    if (s.uid !== 0) throw refuse(`${what === file ? 'is' : `is in ${what}, which is`} owned by uid ${s.uid}, not root`, `chown root: ${what}, or --print-only`);
    if ((s.mode & 0o022) !== 0) throw refuse(`${what === file ? 'is' : `is in ${what}, which is`} writable by others than root (mode ${(s.mode & 0o7777).toString(8)})`, `chmod go-w ${what}, or --print-only`);
  }
  return { text: fs.readFileSync(file, 'utf8'), mode: st.mode & 0o7777 };
}

const write = (file: string, text: string, mode: number) => writeFileAtomic(file, text, mode, (err, call, target) => fromNodeError(err, call, target));

/**
 * The edit enroll makes for enrolled device `name`, whose passthrough is
 * `node`: its crypttab entry (LUKS) or its fstab entry names `node` instead of
 * the partition. Throws, before anything is made, when the table may not be
 * trusted; otherwise a plan, `manual` when there is not exactly one entry.
 */
export function planEnrollEdit(tables: BootTables, luks: boolean, name: string, node: string, names: PartitionNames): TablePlan {
  const kind: TableKind = luks ? 'crypttab' : 'fstab';
  const file = tables[kind];
  const manual = (why: string): TablePlan => ({ table: { file, outcome: 'manual', why }, apply: nothingToWrite });
  const table = readTable(file);
  if (!table) return manual(`${file} does not exist`);
  const r = rewriteSource(table.text, kind, (s) => sourceNames(s, names, names.isDevice), node, tag(name));
  switch (r.outcome) {
    case 'already':
      return { table: { file, outcome: 'already', after: r.after }, apply: nothingToWrite };
    case 'none':
      return manual(`no ${kind} entry names the partition`);
    case 'several':
      return manual(`${r.lines.length} ${kind} entries name the partition (${r.lines.map((l) => l.trim()).join('; ')}): which to change is yours to say`);
    case 'rewritten':
      return { table: { file, outcome: 'rewritten', before: r.before, after: r.after }, apply: () => write(file, r.text, table.mode) };
  }
}

export interface TableRestore {
  readonly file: string;
  readonly line: string;
  readonly apply: () => void;
}

/** The line enroll replaced put back (in whichever table holds it), worked out before anything changes. */
export function planUnenrollEdit(tables: BootTables, name: string): TableRestore | undefined {
  for (const file of [tables.fstab, tables.crypttab]) {
    const table = readTable(file);
    if (!table) continue;
    const r = restoreSource(table.text, tag(name));
    if (r.outcome === 'restored') return { file, line: r.line, apply: () => write(file, r.text, table.mode) };
  }
  return undefined;
}
