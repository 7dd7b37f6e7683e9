/**
 * Who uses a store right now: a dm device of ours named for it, or a loop
 * device over its file. Read from sysfs, so it works without our client.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loopsOverFile } from './loop.js';

export function storeUsers(name: string, file: string): string[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/sys/block');
  } catch {
    return [];
  }
  const users: string[] = [];
  for (const dev of entries) {
    let dmName: string;
    try {
      dmName = fs.readFileSync(path.join('/sys/block', dev, 'dm', 'name'), 'utf8').trim();
    } catch {
      continue;
    }
    if (dmName.startsWith(`snapstore-${name}-`)) users.push(`dm device ${dmName} (/dev/${dev})`);
  }
  return [...users, ...loopsOverFile(file).map((loop) => `loop device ${loop}`)];
}
