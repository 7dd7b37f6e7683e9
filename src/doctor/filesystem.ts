/**
 * The filesystem holding PATH: its type and where it is mounted from, and
 * whether a store can be made on it (the FIEMAP allow-list's own check and
 * reason, fiemap/filesystems.ts).
 */
import { checkFilesystem } from '../fiemap/filesystems.js';
import { fail, ok, refusal, warn, type Finding } from './finding.js';
import { deviceLabel, type PathFacts } from './path-facts.js';

const CHECK = 'filesystem';

export function checkPathFilesystem(f: PathFacts): Finding {
  const mounted = f.mount ? `mounted at ${f.mount.mountPoint}` : 'not in mountinfo';
  try {
    checkFilesystem(f.path, f.fs);
  } catch (err) {
    const r = refusal(CHECK, err);
    if (f.fs.type === 'btrfs') {
      return fail(CHECK, `${r.message} (${mounted}); and a snapshot of its device would show a second btrfs with the same filesystem id, which btrfs's device scan can take for the original`, "use btrfs's own snapshots (btrfs subvolume snapshot) for it, or checkpoint an ext4 or xfs filesystem");
    }
    if (!f.device) return fail(CHECK, `${r.message} (${mounted}); nor is there a block device beneath it for a snapshot to keep`, 'checkpoint a filesystem on a block device (ext4 or xfs)');
    return warn(CHECK, `${r.message} (${mounted} on ${deviceLabel(f)}): a checkpoint of it needs its store on another ext4 or xfs filesystem over a dm device, and snapstore is tested on ext4 and xfs only`, r.fix);
  }
  return ok(CHECK, `${f.path} is on ${f.fs.type} on ${deviceLabel(f)}, ${mounted}: a store can be made on it`);
}
