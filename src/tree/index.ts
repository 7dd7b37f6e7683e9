/** File trees compared: what a second tree added, removed and changed. See README.md here. */
export type { Entry, EntryType } from './entry.js';
export type { Change } from './compare.js';
export type { TreeDiff, AddedOrRemoved, Changed, EntryFacts, DiffTreesOptions } from './diff-trees.js';
export { diffTrees } from './diff-trees.js';
export { pathText } from './path-text.js';
