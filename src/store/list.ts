/** The stores a state directory knows, what state each is in, and what uses it. */
import * as fs from 'node:fs';
import type { DeviceMapperApi } from '../dm/api.js';
import { deviceMapperIfPresent } from '../dm/presence.js';
import { SnapstoreError } from '../errors.js';
import { StateDir } from '../state/state-dir.js';
import { storeUsers } from './in-use.js';
import type { StoreManifest } from './manifest.js';
import { readManifest } from './manifest.js';

export type StoreState =
  /** the manifest reads and its file is at its path */
  | 'ok'
  /** the manifest reads; nothing is at its path (gone, or its filesystem is not mounted) */
  | 'file-missing'
  /** a `store create` was killed: `store delete` cleans it up */
  | 'unfinished'
  /** the manifest does not validate */
  | 'damaged';

export interface StoreListing {
  readonly name: string;
  readonly state: StoreState;
  /** undefined unless the manifest could be read */
  readonly manifest?: StoreManifest;
  /** what is wrong, and the way out, for any state but ok */
  readonly problem?: string;
  readonly users: string[];
}

export interface ListOptions {
  readonly stateDir: string;
  readonly dm?: DeviceMapperApi;
}

/** Every store; a state directory that is not there is an error (STATE_DIR_MISSING), not an empty list. */
export function listStores(options: ListOptions): StoreListing[] {
  const stateDir = StateDir.need(options.stateDir);
  const dir = stateDir.folder('stores');
  if (dir === undefined) return [];
  const entries = fs.readdirSync(dir);
  // Opened only when there is a store to ask about: an empty list stays cheap.
  let dm: DeviceMapperApi | undefined = options.dm;
  let opened = false;
  const users = (name: string, file: string): string[] => {
    if (!dm && !opened) {
      dm = deviceMapperIfPresent();
      opened = true;
    }
    return storeUsers(dm, name, file);
  };
  try {
    return listEntries(stateDir, entries, users);
  } finally {
    if (opened) dm?.close();
  }
}

function listEntries(stateDir: StateDir, entries: string[], storeUsers: (name: string, file: string) => string[]): StoreListing[] {
  return (
    entries
      // A record beside a manifest: the create got as far as its manifest.
      .filter((f) => (f.endsWith('.json') || (f.endsWith('.creating') && !entries.includes(f.replace(/\.creating$/, '.json')))) && !f.startsWith('.'))
      .sort()
      .map((f): StoreListing => {
        const name = f.replace(/\.(json|creating)$/, '');
        if (f.endsWith('.creating')) {
          return { name, state: 'unfinished', problem: `an unfinished \`store create\`: run \`snapstore store delete ${name}\` to clean it up`, users: [] };
        }
        let manifest: StoreManifest;
        try {
          manifest = readManifest(stateDir, name);
        } catch (err) {
          if (!(err instanceof SnapstoreError) || err.code === 'STATE_UNTRUSTED') throw err;
          return { name, state: 'damaged', problem: err.message, users: [] };
        }
        const users = storeUsers(name, manifest.file);
        if (!fs.existsSync(manifest.file)) {
          return {
            name,
            state: 'file-missing',
            manifest,
            users,
            problem: `${manifest.file} is not there: its filesystem is not mounted, or the file is gone (\`snapstore store verify ${name}\` tells which)`,
          };
        }
        return { name, state: 'ok', manifest, users };
      })
  );
}
