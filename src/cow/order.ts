/**
 * Orders over a column of chunk numbers (a Float64Array of exact integers
 * below 2^53): the table keeps its exceptions as columns, and sorting their
 * positions is how it finds repeats and how the merge plans its reads and
 * writes.
 */

/**
 * The positions of `values` in ascending order of value, ties by position.
 * A column already ascending (new_chunk in a table the kernel filled in
 * allocation order) costs one pass. Otherwise each position is packed with
 * its value into a u64 key, sorted by the typed array's native sort, which
 * never calls back into JS (a comparator sort calls it n·log n times); only
 * values too large to pack, which no real table has, take the comparator.
 */
export function sortedPositions(values: Float64Array): Uint32Array {
  const n = values.length;
  const order = new Uint32Array(n);
  let bits = 0;
  while (2 ** bits < n) bits++;
  // key = value·2^bits + position, as two u32 words (little-endian), built
  // in the same pass that finds whether the column is ascending already and
  // whether every value fits.
  const words = new Uint32Array(2 * n);
  const lowSpan = 2 ** (32 - bits);
  const limit = 2 ** (64 - bits);
  let ascending = true;
  let fits = true;
  let previous = -1;
  for (let k = 0; k < n; k++) {
    const v = values[k]!;
    if (v <= previous) ascending = false;
    if (v >= limit) fits = false;
    previous = v;
    const high = Math.floor(v / lowSpan);
    words[2 * k] = (v - high * lowSpan) * 2 ** bits + k;
    words[2 * k + 1] = high;
  }
  if (ascending || !fits) {
    for (let k = 0; k < n; k++) order[k] = k;
    return ascending ? order : order.sort((a, b) => values[a]! - values[b]! || a - b);
  }
  new BigUint64Array(words.buffer).sort();
  const mask = 2 ** bits - 1;
  for (let k = 0; k < n; k++) order[k] = words[2 * k]! & mask;
  return order;
}

/**
 * The first position whose value an earlier position already holds, and the
 * earliest such position (what a walk in position order with a map of the
 * values seen would stop at), given the column's sortedPositions.
 */
export function firstRepeat(values: Float64Array, order: Uint32Array): { at: number; earlier: number } | undefined {
  let found: { at: number; earlier: number } | undefined;
  let groupStart = 0;
  for (let k = 1; k < order.length; k++) {
    if (values[order[k]!] !== values[order[groupStart]!]) {
      groupStart = k;
    } else if (k === groupStart + 1 && (found === undefined || order[k]! < found.at)) {
      // Within a group positions ascend: its second is its first repeat.
      found = { at: order[k]!, earlier: order[groupStart]! };
    }
  }
  return found;
}

/**
 * The sorted positions of column[start, end), counted from start: the
 * column's own `order` when the range is all of it (a merge in one batch),
 * else sorted afresh (a pass over the whole order per batch would cost more).
 */
export function rangeOrder(column: Float64Array, order: Uint32Array, start: number, end: number): Uint32Array {
  return start === 0 && end === column.length ? order : sortedPositions(column.subarray(start, end));
}
