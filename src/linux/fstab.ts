/**
 * fstab(5) and crypttab(5) as text: blank-separated fields, `#` comments,
 * spaces inside a field written `\040`. Only the field naming the device is
 * ever rewritten; every other byte of the file is kept. The line a rewrite
 * replaced is kept above it, in a comment carrying the name of the one that
 * rewrote it, so that the rewrite can be undone exactly.
 */

/** Which field names the device: fstab's first (`fs_spec`), crypttab's second (`encrypted-device`). */
export type TableKind = 'fstab' | 'crypttab';
const SOURCE_FIELD: Record<TableKind, number> = { fstab: 0, crypttab: 1 };

export interface TableEntry {
  /** index of the line in the file */
  readonly line: number;
  /** the fields, octal escapes decoded */
  readonly fields: readonly string[];
  /** the field naming the device, decoded */
  readonly source: string;
}

const decode = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
const encode = (s: string): string => s.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);

export function tableEntries(text: string, kind: TableKind): TableEntry[] {
  const out: TableEntry[] = [];
  text.split('\n').forEach((raw, line) => {
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) return;
    const fields = t.split(/\s+/).map(decode);
    const source = fields[SOURCE_FIELD[kind]];
    if (source !== undefined) out.push({ line, fields, source });
  });
  return out;
}

/** The comment kept above a rewritten line: `# <tag>, before: <the line as it was>`. */
const keptPrefix = (tag: string): string => `# ${tag}, before: `;

export type Rewrite =
  | { readonly outcome: 'rewritten'; readonly text: string; readonly before: string; readonly after: string }
  | { readonly outcome: 'already'; readonly after: string }
  | { readonly outcome: 'none' }
  | { readonly outcome: 'several'; readonly lines: readonly string[] };

/**
 * Points the one entry whose device field `names` accepts at `source`,
 * keeping the line it was as a comment tagged `tag` above it. `already`
 * when that entry names `source` now (the rewrite was done: a rerun);
 * `none` or `several` when there is not exactly one entry to rewrite.
 */
export function rewriteSource(text: string, kind: TableKind, names: (source: string) => boolean, source: string, tag: string): Rewrite {
  const lines = text.split('\n');
  const entries = tableEntries(text, kind);
  const done = entries.filter((e) => e.source === source);
  if (done.length === 1) return { outcome: 'already', after: lines[done[0]!.line]! };
  const hits = entries.filter((e) => names(e.source));
  if (hits.length === 0) return { outcome: 'none' };
  if (hits.length > 1) return { outcome: 'several', lines: hits.map((h) => lines[h.line]!) };
  const at = hits[0]!.line;
  const before = lines[at]!;
  // The device field replaced in place: the spacing and every other field stay as written.
  const field = SOURCE_FIELD[kind];
  const m = new RegExp(`^(\\s*(?:\\S+\\s+){${field}})(\\S+)`).exec(before);
  if (!m) return { outcome: 'none' };
  const after = `${m[1]}${encode(source)}${before.slice(m[0].length)}`;
  lines.splice(at, 1, `${keptPrefix(tag)}${before}`, after);
  return { outcome: 'rewritten', text: lines.join('\n'), before, after };
}

export type Restore = { readonly outcome: 'restored'; readonly text: string; readonly line: string } | { readonly outcome: 'none' };

/** Undoes rewriteSource(…, tag): the kept line back in place of the one below it. */
export function restoreSource(text: string, tag: string): Restore {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.startsWith(keptPrefix(tag)));
  if (at < 0 || at + 1 >= lines.length) return { outcome: 'none' };
  const line = lines[at]!.slice(keptPrefix(tag).length);
  lines.splice(at, 2, line);
  return { outcome: 'restored', text: lines.join('\n'), line };
}

/**
 * Whether an fstab/crypttab device field names a device with these names:
 * `UUID=`, `LABEL=`, `PARTUUID=`, `PARTLABEL=` (quoted or not, as libblkid
 * takes them), or a path, compared by `isDevice`.
 */
export function sourceNames(source: string, names: { readonly fsUuid?: string | undefined; readonly fsLabel?: string | undefined; readonly partUuid?: string | undefined; readonly partLabel?: string | undefined }, isDevice: (path: string) => boolean): boolean {
  const tag = /^(UUID|LABEL|PARTUUID|PARTLABEL)=(.*)$/.exec(source);
  if (!tag) return source.startsWith('/') && isDevice(source);
  const value = tag[2]!.replace(/^"(.*)"$/, '$1');
  const same = (have: string | undefined, caseless: boolean) => have !== undefined && (caseless ? have.toLowerCase() === value.toLowerCase() : have === value);
  switch (tag[1]) {
    case 'UUID':
      return same(names.fsUuid, true);
    case 'LABEL':
      return same(names.fsLabel, false);
    case 'PARTUUID':
      return same(names.partUuid, true);
    default:
      return same(names.partLabel, false);
  }
}
