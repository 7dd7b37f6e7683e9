/** Paths that may not exist yet. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** `p` itself, or its nearest ancestor that exists: where a path to be made would live (its filesystem). */
export function existingAncestor(p: string): string {
  let at = p;
  while (!fs.existsSync(at) && path.dirname(at) !== at) at = path.dirname(at);
  return at;
}
