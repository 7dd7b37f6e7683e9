import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { firstRepeat, rangeOrder, sortedPositions } from '../../src/cow/order.js';

/** What the orders must equal: a comparator sort, and a walk with a map of the values seen. */
function model(values: readonly number[]): { order: number[]; repeat: { at: number; earlier: number } | undefined } {
  const order = values.map((_, k) => k).sort((a, b) => values[a]! - values[b]! || a - b);
  const seen = new Map<number, number>();
  for (let k = 0; k < values.length; k++) {
    const earlier = seen.get(values[k]!);
    if (earlier !== undefined) return { order, repeat: { at: k, earlier } };
    seen.set(values[k]!, k);
  }
  return { order, repeat: undefined };
}

// Small values pack into u64 keys (value·2^bits + position); values near
// 2^53 in a column of more than 2^11 cannot, and take the comparator path.
const column = fc.oneof(
  fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 300 }),
  fc.array(fc.integer({ min: 2 ** 53 - 60, max: 2 ** 53 - 1 }), { minLength: 2049, maxLength: 2100 }),
  fc.uniqueArray(fc.integer({ min: 0, max: 1e6 }), { maxLength: 300 }).map((v) => v.sort((a, b) => a - b)),
);

describe('column orders', () => {
  it('sort positions by value, ties by position, and find the first repeat as a walk would (property)', () => {
    fc.assert(
      fc.property(column, (values) => {
        const v = Float64Array.from(values);
        const order = sortedPositions(v);
        const want = model(values);
        expect([...order]).toEqual(want.order);
        expect(firstRepeat(v, order)).toEqual(want.repeat);
      }),
      { numRuns: 300 },
    );
  });

  it('packs keys for thousands of positions and values up to 2^44 chunks', () => {
    const values = Array.from({ length: 5000 }, (_, k) => ((k * 7919) % 5000) * 2 ** 31 + (k % 3));
    const v = Float64Array.from(values);
    expect([...sortedPositions(v)]).toEqual(model(values).order);
  });

  it('orders a range from the column alone, or reuses the whole order', () => {
    const v = Float64Array.from([9, 3, 7, 1, 5]);
    const order = sortedPositions(v);
    expect(rangeOrder(v, order, 0, 5)).toBe(order);
    expect([...rangeOrder(v, order, 1, 4)]).toEqual([2, 0, 1]); // 3, 7, 1 counted from position 1
  });
});
