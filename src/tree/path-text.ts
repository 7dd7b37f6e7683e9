/**
 * A path's bytes as text. Linux names are bytes: most are UTF-8, and those
 * read as such; a byte that is not part of valid UTF-8, a control character
 * (a newline would split a line of output) and a backslash are written
 * \xNN, so every path has one spelling, on one line, and two paths never
 * share one.
 */
import { TextDecoder } from 'node:util';

// ignoreBOM: a name that starts with U+FEFF keeps it.
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Bytes always written \xNN: the backslash and the control characters. */
const escaped = (b: number): boolean => b === 0x5c || b < 0x20 || b === 0x7f;

export function pathText(path: Buffer): string {
  if (!path.some(escaped)) {
    try {
      return strict.decode(path);
    } catch {
      // not UTF-8 throughout: byte by byte below
    }
  }
  let out = '';
  for (let i = 0; i < path.length; ) {
    const n = sequenceLength(path, i);
    out += n === 0 || escaped(path[i]!) ? `\\x${path[i]!.toString(16).padStart(2, '0')}` : strict.decode(path.subarray(i, i + n));
    i += n === 0 ? 1 : n;
  }
  return out;
}

/** The length of the valid UTF-8 sequence at `i`, or 0. */
function sequenceLength(b: Buffer, i: number): number {
  for (const n of [1, 2, 3, 4]) {
    if (i + n > b.length) return 0;
    try {
      strict.decode(b.subarray(i, i + n));
      return n;
    } catch {
      // a longer sequence, or none
    }
  }
  return 0;
}
