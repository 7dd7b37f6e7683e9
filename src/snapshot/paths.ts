import * as path from 'node:path';

/** Where a snapshot's records live in the state directory. */
export const snapshotPaths = {
  folder: (stateDir: string): string => path.join(stateDir, 'snapshots'),
  manifest: (stateDir: string, name: string): string => path.join(stateDir, 'snapshots', `${name}.json`),
};
