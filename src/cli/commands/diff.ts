import { diffSnapshot, type SnapshotDiff } from '../../snapshot/diff.js';
import type { Changed } from '../../tree/diff-trees.js';
import type { CommandContext } from '../context.js';

export interface DiffCommandOptions {
  name: string;
  stateDir: string;
}

/** What changed in a changed entry, old to new where that fits on a line. */
function what(c: Changed): string {
  return c.changes
    .map((k) => {
      if (k === 'type') return `type ${c.old.type} -> ${c.new.type}`;
      if (k === 'mode') return `mode ${c.old.mode} -> ${c.new.mode}`;
      if (k === 'owner') return `owner ${c.old.uid}:${c.old.gid} -> ${c.new.uid}:${c.new.gid}`;
      if (k === 'size') return `size ${c.old.size} -> ${c.new.size}`;
      if (k === 'target') return `target ${c.old.target} -> ${c.new.target}`;
      return k;
    })
    .join(', ');
}

/** One line per path, as `git status --short`: A added, D removed, M changed (and what); a directory ends in '/'. */
export function diffLines(d: SnapshotDiff): string[] {
  const dir = (p: string, type: string) => (type === 'directory' ? `${p}/` : p);
  const rows: [string, string][] = [
    ...d.added.map((e): [string, string] => [e.path, `A  ${dir(e.path, e.type)}`]),
    ...d.removed.map((e): [string, string] => [e.path, `D  ${dir(e.path, e.type)}`]),
    ...d.changed.map((e): [string, string] => [e.path, `M  ${dir(e.path, e.type)}  (${what(e)})`]),
  ];
  return rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, line]) => line);
}

export async function run(options: DiffCommandOptions, ctx: CommandContext): Promise<void> {
  const d = await diffSnapshot({ name: options.name, stateDir: options.stateDir, log: (l) => ctx.err(l), ...(ctx.signal ? { signal: ctx.signal } : {}) });
  ctx.result('diff', d);
  for (const line of diffLines(d)) ctx.out(line);
  ctx.err(
    d.added.length + d.removed.length + d.changed.length === 0
      ? `no change since checkpoint "${d.name}" was made (${d.origin.device} against ${d.snapshotDevice})`
      : `${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed since checkpoint "${d.name}" was made (${d.origin.device} against ${d.snapshotDevice}; contents read where size is the same and mtime not)`,
  );
  if (d.storeLeftOut !== null) ctx.err(`left out: the checkpoint's own store file, ${d.storeLeftOut}`);
}
