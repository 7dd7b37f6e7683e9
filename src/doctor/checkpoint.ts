/**
 * Whether a checkpoint of PATH's filesystem can be made, and why: the
 * lifecycle's own origin check (snapshot/checks.ts `checkOrigin`, what
 * `create` refuses) run on the device beneath, and what that device is: a dm
 * passthrough, an LVM volume, dm-crypt (above the crypt layer with its key in
 * the table, beneath it over an enrolled partition), a partition or disk (to
 * enroll), a loop device, or a dm device of a kind never tested.
 */
import { LinearTarget, SnapshotMergeTarget, SnapshotOriginTarget, type Target } from '../dm/targets.js';
import { formatDeviceNumber } from '../linux/device-number.js';
import { checkOrigin } from '../snapshot/checks.js';
import type { Platform } from '../snapshot/platform.js';
import { parseDmUuid } from '../state/names.js';
import { fail, ok, refusal, warn, type Finding } from './finding.js';
import { deviceLabel, type PathFacts } from './path-facts.js';

const CHECK = 'checkpoint';

/** `platform`: undefined where device-mapper could not be opened. */
export function checkCheckpoint(f: PathFacts, platform: Platform | undefined): Finding {
  const on = `${f.path} is on ${deviceLabel(f)}`;
  if (!f.device || f.node === undefined) return fail(CHECK, `${on}: a checkpoint keeps the old contents of a block device beneath a filesystem, and ${f.fs.type} has none`, 'checkpoint a filesystem on a block device (ext4 or xfs)');
  const loop = f.device.loopBackingFile;
  const loopFix = `mount it from a dm passthrough over the loop device instead (\`dmsetup create NAME --table "0 ${f.device.size / 512} linear ${f.device.node} 0"\`, then mount /dev/mapper/NAME): checkpoints work there`;
  if (!platform) {
    if (f.device.dm) return warn(CHECK, `${on}, a dm device whose table cannot be read without device-mapper`, 'see device-mapper');
    const then = loop ? loopFix : `\`snapstore enroll ${f.node} --name NAME\`, then a reboot (it is then mounted through /dev/mapper/snapstore-NAME)`;
    return fail(CHECK, `${on}, not a dm device, and checkpoints need device-mapper beneath the filesystem`, `the device-mapper fix first; then ${then}`);
  }
  const dmName = platform.dm.nameOf(f.dev);
  if (dmName === undefined && loop) {
    return fail(CHECK, `${on}: a loop device, not a dm device; a mounted filesystem holds it exclusively, so nothing can be put beneath it, and enroll (which maps a partition at boot) does not fit a loop device set up after boot`, loopFix);
  }
  const live = dmName === undefined ? undefined : liveCheckpoint(platform, platform.dm.table(dmName));
  if (live) return ok(CHECK, `${on}: snapstore's "${live.name}" is ${live.merging ? 'rolling it back (merging)' : 'a live checkpoint of it'}: \`snapstore status ${live.name}\``);
  let origin;
  try {
    origin = checkOrigin(platform, f.node);
  } catch (err) {
    return refusal(CHECK, err);
  }
  if (origin.beneath) return ok(CHECK, `${on}: dm-crypt over ${origin.dmName}, an enrolled partition's passthrough: a checkpoint goes beneath the crypt layer (it needs no key)`);
  const uuid = platform.dm.info(origin.dmName).uuid;
  const types = [...new Set(origin.table.map((t) => t.type))];
  if (types.every((t) => t === 'linear')) {
    const what = uuid.startsWith('LVM-') ? 'an LVM logical volume' : parseDmUuid(uuid)?.role === 'origin' ? "snapstore's passthrough of an enrolled partition" : `a dm passthrough (linear over ${devicesOf(origin.table)})`;
    return ok(CHECK, `${on}: ${what}: checkpoints work (its table moves to snapstore-NAME-real, as LVM does for its own snapshots)`);
  }
  if (types.length === 1 && types[0] === 'crypt') return ok(CHECK, `${on}: dm-crypt with its key in its table: a checkpoint goes above the crypt layer (the table moves to snapstore-NAME-real)`);
  return warn(
    CHECK,
    `${on}: a dm device of ${types.join(', ')} targets: create accepts it (its table moves to snapstore-NAME-real, as LVM does), but snapstore is tested over linear (passthroughs, LVM) and crypt devices only`,
    'try it on a test system first: `snapstore create ... --dry-run` shows every step',
  );
}

/** The devices a linear table maps onto, for messages. */
const devicesOf = (table: readonly Target[]): string => [...new Set(table.flatMap((t) => (t instanceof LinearTarget ? [formatDeviceNumber(t.device)] : [])))].join(', ');

/** Our checkpoint on this device (its table: snapshot-origin, or snapshot-merge in a rollback, over our -real), if there is one. */
function liveCheckpoint(platform: Platform, table: readonly Target[]): { name: string; merging: boolean } | undefined {
  const only = table.length === 1 ? table[0] : undefined;
  if (!(only instanceof SnapshotOriginTarget || only instanceof SnapshotMergeTarget)) return undefined;
  const below = platform.dm.nameOf(only.origin);
  const ours = below === undefined ? undefined : parseDmUuid(platform.dm.info(below).uuid);
  return ours?.role === 'real' ? { name: ours.name, merging: only instanceof SnapshotMergeTarget } : undefined;
}
