import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(root, 'bin', 'snapstore');

/** Runs the built CLI as a user would; never throws on a non-zero exit. */
export async function snapstore(args: string[]) {
  if (!fs.existsSync(path.join(root, 'dist', 'cli-bundle', 'main.js'))) {
    throw new Error('the CLI bundle (dist/cli-bundle/) is missing: run `bash scripts/setup` or `npm run build` (the README test command does) before the CLI tests');
  }
  return execa(BIN, args, { reject: false });
}
