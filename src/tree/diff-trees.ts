/**
 * Two file trees compared: the paths only the new one has (added), only the
 * old one has (removed), and those whose entry differs (changed, with what;
 * compare.ts says what is compared and why). Both trees are walked side by
 * side, one directory at a time, names in byte order, so memory follows the
 * widest directory and the changes found, not the size of the trees. Every
 * entry below an added or removed directory is listed too: the sets are
 * exact, as a script that checks them needs. A directory on another
 * filesystem than its tree's root (a mount point) is compared, not entered.
 */
import { SnapstoreError } from '../errors.js';
import { SafePoints } from '../util/interrupt.js';
import { metadataChanges, sameContents, type Change } from './compare.js';
import { entryAt, namesIn, type Entry, type EntryType } from './entry.js';
import { pathText } from './path-text.js';

/** An entry as a diff reports it. `mode` in octal ("0644"); `target` only for a symlink. */
export interface EntryFacts {
  readonly type: EntryType;
  readonly size: number;
  readonly mode: string;
  readonly uid: number;
  readonly gid: number;
  readonly target?: string;
}

export interface AddedOrRemoved {
  /** relative to the tree's root, '/'-separated; bytes that are not UTF-8, control characters and '\\' as \xNN (path-text.ts) */
  readonly path: string;
  readonly type: EntryType;
}

export interface Changed {
  readonly path: string;
  /** its type now */
  readonly type: EntryType;
  readonly changes: readonly Change[];
  readonly old: EntryFacts;
  readonly new: EntryFacts;
}

export interface TreeDiff {
  readonly added: AddedOrRemoved[];
  readonly removed: AddedOrRemoved[];
  readonly changed: Changed[];
}

export interface DiffTreesOptions {
  /** stop at a safe point (INTERRUPTED) when this fires */
  readonly signal?: AbortSignal;
  /** entries to leave out, on either side, as if they were not there (a snapshot's own store file) */
  readonly leaveOut?: (e: Entry) => boolean;
}

const SLASH = Buffer.from('/');
const join = (dir: Buffer, name: Buffer): Buffer => (dir.length === 0 ? name : Buffer.concat([dir, SLASH, name]));

export function entryFacts(e: Entry): EntryFacts {
  return {
    type: e.type,
    size: e.size,
    mode: e.mode.toString(8).padStart(4, '0'),
    uid: e.uid,
    gid: e.gid,
    ...(e.target !== undefined ? { target: pathText(e.target) } : {}),
  };
}

/** Compares the tree at `newRoot` with the tree at `oldRoot`. */
export async function diffTrees(oldRoot: string, newRoot: string, options: DiffTreesOptions = {}): Promise<TreeDiff> {
  const roots = { old: Buffer.from(oldRoot), new: Buffer.from(newRoot) };
  const rootEntries = { old: entryAt(roots.old), new: entryAt(roots.new) };
  for (const side of ['old', 'new'] as const) {
    if (rootEntries[side]?.type !== 'directory') {
      throw new SnapstoreError('NOT_A_DIRECTORY', `the ${side} tree's root ${side === 'old' ? oldRoot : newRoot} is ${rootEntries[side] ? `a ${rootEntries[side].type}` : 'not there'}`, { hint: 'give two directories' });
    }
  }
  const devs = { old: rootEntries.old!.dev, new: rootEntries.new!.dev };
  const safe = new SafePoints(options.signal);
  const leaveOut = options.leaveOut ?? (() => false);
  const entry = (p: Buffer): Entry | undefined => {
    const e = entryAt(p);
    return e === undefined || leaveOut(e) ? undefined : e;
  };
  const found: { added: [Buffer, AddedOrRemoved][]; removed: [Buffer, AddedOrRemoved][]; changed: [Buffer, Changed][] } = { added: [], removed: [], changed: [] };
  const at = (side: 'old' | 'new', rel: Buffer): Buffer => (rel.length === 0 ? roots[side] : join(roots[side], rel));
  const enters = (side: 'old' | 'new', e: Entry | undefined): boolean => e?.type === 'directory' && e.dev === devs[side];

  /** Every entry below `rel` on one side, as added (new) or removed (old). */
  async function only(side: 'old' | 'new', rel: Buffer): Promise<void> {
    for (const name of namesIn(at(side, rel))) {
      const path = join(rel, name);
      await safe.check(`while comparing ${pathText(path)}`);
      const e = entry(at(side, path));
      if (e === undefined) continue;
      (side === 'new' ? found.added : found.removed).push([path, { path: pathText(path), type: e.type }]);
      if (enters(side, e)) await only(side, path);
    }
  }

  async function both(rel: Buffer): Promise<void> {
    const names = mergeSorted(namesIn(at('old', rel)), namesIn(at('new', rel)));
    for (const name of names) {
      const path = join(rel, name);
      await safe.check(`while comparing ${pathText(path)}`);
      const a = entry(at('old', path));
      const b = entry(at('new', path));
      if (a === undefined && b === undefined) continue;
      if (a === undefined || b === undefined) {
        const side = a === undefined ? 'new' : 'old';
        (side === 'new' ? found.added : found.removed).push([path, { path: pathText(path), type: (a ?? b)!.type }]);
        if (enters(side, a ?? b)) await only(side, path);
        continue;
      }
      const { changes, readContents } = metadataChanges(a, b);
      if (readContents && !(await sameContents(at('old', path), at('new', path), safe, pathText(path)))) changes.push('content');
      if (changes.length > 0) found.changed.push([path, { path: pathText(path), type: b.type, changes, old: entryFacts(a), new: entryFacts(b) }]);
      if (enters('old', a) && enters('new', b)) await both(path);
      else {
        if (enters('old', a)) await only('old', path);
        if (enters('new', b)) await only('new', path);
      }
    }
  }

  await both(Buffer.alloc(0));
  const sorted = <T>(list: [Buffer, T][]): T[] => list.sort((x, y) => Buffer.compare(x[0], y[0])).map(([, v]) => v);
  return { added: sorted(found.added), removed: sorted(found.removed), changed: sorted(found.changed) };
}

/** The union of two sorted name lists, sorted, each name once. */
function mergeSorted(a: Buffer[], b: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const c = i >= a.length ? 1 : j >= b.length ? -1 : Buffer.compare(a[i]!, b[j]!);
    out.push(c <= 0 ? a[i]! : b[j]!);
    if (c <= 0) i++;
    if (c >= 0) j++;
  }
  return out;
}
