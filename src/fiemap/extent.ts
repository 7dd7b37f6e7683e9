import type { Bytes } from '../units/units.js';

/** One extent as FIEMAP reports it: file offset, device offset, length, fe_flags. */
export interface RawExtent {
  readonly logical: Bytes;
  readonly physical: Bytes;
  readonly length: Bytes;
  readonly flags: number;
}

/**
 * A list of extents held column by column in typed arrays. A file can have
 * hundreds of thousands of extents; as objects they cost more in allocation
 * and garbage collection than the FIEMAP call itself costs the kernel.
 * Values are byte counts below 2^53 (checked where they are read).
 */
export class ExtentColumns {
  count = 0;
  logical: Float64Array;
  physical: Float64Array;
  length: Float64Array;
  flags: Uint32Array;

  constructor(capacity = 1024) {
    this.logical = new Float64Array(capacity);
    this.physical = new Float64Array(capacity);
    this.length = new Float64Array(capacity);
    this.flags = new Uint32Array(capacity);
  }

  push(logical: number, physical: number, length: number, flags: number): void {
    if (this.count === this.logical.length) this.grow();
    const i = this.count++;
    this.logical[i] = logical;
    this.physical[i] = physical;
    this.length[i] = length;
    this.flags[i] = flags;
  }

  private grow(): void {
    const cap = this.logical.length * 2;
    const grown = <T extends Float64Array | Uint32Array>(a: T, make: new (n: number) => T): T => {
      const b = new make(cap);
      b.set(a);
      return b;
    };
    this.logical = grown(this.logical, Float64Array);
    this.physical = grown(this.physical, Float64Array);
    this.length = grown(this.length, Float64Array);
    this.flags = grown(this.flags, Uint32Array);
  }

  at(i: number): RawExtent {
    return {
      logical: this.logical[i] as Bytes,
      physical: this.physical[i] as Bytes,
      length: this.length[i] as Bytes,
      flags: this.flags[i]!,
    };
  }

  toArray(): RawExtent[] {
    return Array.from({ length: this.count }, (_, i) => this.at(i));
  }

  static from(extents: readonly RawExtent[]): ExtentColumns {
    const c = new ExtentColumns(Math.max(1, extents.length));
    for (const e of extents) c.push(e.logical, e.physical, e.length, e.flags);
    return c;
  }
}
