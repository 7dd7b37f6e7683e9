/** The stores a state directory knows, with whether each is in use right now. */
import * as fs from 'node:fs';
import { storeUsers } from './in-use.js';
import type { StoreManifest } from './manifest.js';
import { readManifest } from './manifest.js';
import { storesDir } from './state-dir.js';

export interface StoreListing {
  readonly name: string;
  /** undefined when the manifest could not be read; `problem` says why */
  readonly manifest?: StoreManifest;
  readonly problem?: string;
  readonly users: string[];
}

export function listStores(stateDir: string): StoreListing[] {
  const dir = storesDir(stateDir);
  if (!fs.existsSync(dir)) return [];
  const entries = fs.readdirSync(dir);
  return entries
    // A record beside a manifest: the create got as far as its manifest.
    .filter((f) => (f.endsWith('.json') || (f.endsWith('.creating') && !entries.includes(f.replace(/\.creating$/, '.json')))) && !f.startsWith('.'))
    .sort()
    .map((f) => {
      const name = f.replace(/\.(json|creating)$/, '');
      if (f.endsWith('.creating')) {
        return { name, problem: `an unfinished \`store create\`: run \`snapstore store delete ${name}\` to clean it up`, users: [] };
      }
      try {
        const manifest = readManifest(stateDir, name);
        return { name, manifest, users: storeUsers(name, manifest.file) };
      } catch (err) {
        return { name, problem: (err as Error).message, users: [] };
      }
    });
}
