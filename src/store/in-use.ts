/**
 * Who uses a store right now: a dm device of ours named for it, or a loop
 * device over its file. Read from sysfs, so it works without our client.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export function storeUsers(name: string, file: string): string[] {
  const users: string[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/sys/block');
  } catch {
    return users;
  }
  for (const dev of entries) {
    const base = path.join('/sys/block', dev);
    const read = (f: string): string | undefined => {
      try {
        return fs.readFileSync(path.join(base, f), 'utf8').trim();
      } catch {
        return undefined;
      }
    };
    const dmName = read('dm/name');
    if (dmName !== undefined && dmName.startsWith(`snapstore-${name}-`)) users.push(`dm device ${dmName} (/dev/${dev})`);
    const backing = read('loop/backing_file');
    if (backing !== undefined && backing.replace(/ \(deleted\)$/, '') === file) users.push(`loop device /dev/${dev}`);
  }
  return users;
}
