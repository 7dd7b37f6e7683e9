/**
 * Update mode on PATH's filesystem: the update is written into a snapshot of
 * a device nothing mounts (an A/B slot), so not the one PATH is on; and its
 * store lives on another filesystem, which must be ext4 or xfs over a dm
 * device whose table passes straight through (snapshot/stack.ts `cowTable`
 * maps the store through it). Can an update's store live here?
 */
import { passthrough } from '../dm/stack.js';
import { checkFilesystem } from '../fiemap/filesystems.js';
import type { Platform } from '../snapshot/platform.js';
import { ok, refusal, warn, type Finding } from './finding.js';
import { deviceLabel, type PathFacts } from './path-facts.js';

const CHECK = 'update-mode';

/** Why an update's store cannot be made on this filesystem, or undefined when it can. */
function storeRefused(f: PathFacts, platform: Platform | undefined): string | undefined {
  try {
    checkFilesystem(f.path, f.fs);
  } catch (err) {
    return refusal(CHECK, err).message;
  }
  const dmName = platform?.dm.nameOf(f.dev);
  if (!platform || dmName === undefined) return `${deviceLabel(f)} is not a dm device (a store on another filesystem than the origin's is mapped through that filesystem's dm device)`;
  const through = passthrough(platform.dm.table(dmName));
  if ('blocker' in through) return `${dmName}'s table has a ${through.blocker.type} target, which a store cannot be mapped through`;
  return undefined;
}

export function checkUpdateMode(f: PathFacts, platform: Platform | undefined): Finding {
  const notThis = f.node === undefined ? '' : `, so not ${f.node}${f.mount ? ` while it is mounted at ${f.mount.mountPoint}` : ''}`;
  const origin = `update mode writes an update into a snapshot of a device nothing mounts (another A/B slot, a partition before it is mounted)${notThis}`;
  const refused = storeRefused(f, platform);
  if (refused === undefined) return ok(CHECK, `${origin}; an update's store can live on this filesystem (${f.fs.type} over a dm device that passes straight through)`);
  return warn(CHECK, `${origin}; and an update's store cannot live on this filesystem: ${refused}`, 'put update stores on an ext4 or xfs filesystem over a linear dm device (LVM, or a partition enrolled with `snapstore enroll`)');
}
