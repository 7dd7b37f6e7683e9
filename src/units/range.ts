/**
 * Ranges and mappings, in one unit each (bytes or sectors): the shapes every
 * map in snapstore is made of.
 */

/** `length` units at `offset` of one device or address space. */
export interface Range<U extends number> {
  readonly offset: U;
  readonly length: U;
}

/**
 * `length` units at `start` of one address space (the store, a dm device)
 * lie at `offset` of another (a block device): a `linear` segment.
 */
export interface Mapping<U extends number> {
  readonly start: U;
  readonly length: U;
  readonly offset: U;
}
