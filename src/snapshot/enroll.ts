/**
 * `snapstore enroll` / `unenroll`: a data filesystem on a plain partition,
 * which nothing can be put beneath while it is mounted, is from boot on
 * mounted through our passthrough `/dev/mapper/snapstore-NAME` (a `linear`
 * over the whole partition), which `activate` maps before anything mounts
 * it; checkpoints then work on it. For a LUKS partition the passthrough is
 * what crypttab opens, so a checkpoint of the filesystem above goes beneath
 * the crypt layer and needs no key. The record (`STATE_DIR/enrolled/NAME.json`)
 * names the partition by its partition UUID, else its kernel name, and its size.
 */
import * as fs from 'node:fs';
import { LinearTarget } from '../dm/targets.js';
import { SnapstoreError } from '../errors.js';
import { sameDevice, type DeviceNumber } from '../linux/device-number.js';
import { unlinkDurable } from '../state/files.js';
import { field, isCount, isString, jsonObject, optionalField } from '../state/json-record.js';
import type { StateLock } from '../state/lock.js';
import { checkName, dmName, dmUuid, endsLikeARole, statePaths } from '../state/names.js';
import { recordFolder } from '../state/records.js';
import { StateDir } from '../state/state-dir.js';
import { findManifest } from '../store/manifest.js';
import type { Sectors } from '../units/units.js';
import { withLifecycle, withPlatform, type LifecycleOptions } from './context.js';
import { findSnapshot, snapshotNames } from './manifest.js';
import type { Platform } from './platform.js';
import { isFinished } from './states.js';
import { faultPoint } from './faults.js';
import { withUndo } from '../util/undo.js';
import { planEnrollEdit, planUnenrollEdit, SYSTEM_TABLES, type BootTables, type TableOutcome, type TablePlan } from './enroll-tables.js';

export const ENROLLED_VERSION = 1;

export interface EnrolledRecord {
  readonly version: typeof ENROLLED_VERSION;
  readonly name: string;
  /** the partition: found again by its partition UUID, else its kernel name; its size must agree */
  readonly partUuid?: string;
  readonly kernelName: string;
  readonly sectors: number;
  /** what blkid found on it when enrolled (ext4, xfs, crypto_LUKS) */
  readonly fsType?: string;
  readonly enrolledAt: string;
}

function decode(file: string, text: string): EnrolledRecord {
  const fail = (what: string) =>
    new SnapstoreError('MANIFEST_INVALID', `enrollment record ${file}: ${what}`, { hint: 'the record is damaged or from another version; nothing was changed. Look at the file before removing it' });
  const raw = jsonObject(text, fail);
  const version = field(raw, 'version', isCount, 'a number', fail);
  if (version !== ENROLLED_VERSION) throw fail(`version ${version} is not ${ENROLLED_VERSION}`);
  const partUuid = optionalField(raw, 'partUuid', isString, 'a partition UUID', fail);
  const fsType = optionalField(raw, 'fsType', isString, 'a filesystem type', fail);
  return {
    version: ENROLLED_VERSION,
    name: field(raw, 'name', isString, 'a name', fail),
    ...(partUuid !== undefined ? { partUuid } : {}),
    kernelName: field(raw, 'kernelName', isString, 'a kernel name', fail),
    sectors: field(raw, 'sectors', isCount, 'a sector count', fail),
    ...(fsType !== undefined ? { fsType } : {}),
    enrolledAt: field(raw, 'enrolledAt', isString, 'a date', fail),
  };
}

const ENROLLED = recordFolder('enrolled', statePaths.enrolledRecord, decode, (r: EnrolledRecord) => `${JSON.stringify(r, null, 1)}\n`);

export const enrolledDevice = (name: string): string => dmName(name, 'origin');

export function findEnrolled(stateDir: StateDir, name: string): EnrolledRecord | undefined {
  return ENROLLED.find(stateDir, name);
}

export function enrolledNames(stateDir: StateDir): string[] {
  const folder = stateDir.folder('enrolled');
  if (folder === undefined) return [];
  return fs
    .readdirSync(folder)
    .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/** The passthrough's table: the whole partition, one linear target. */
const passthroughTable = (r: { sectors: number }, dev: DeviceNumber) => [new LinearTarget(r.sectors as Sectors, dev, 0 as Sectors)];

/** What to put in fstab (and crypttab, for LUKS): the dm device named, never UUID= (the partition carries the same UUID). */
export function mountLines(r: EnrolledRecord, mountPoint: string | undefined): string[] {
  const at = mountPoint ?? '/MOUNT/POINT';
  const node = `/dev/mapper/${enrolledDevice(r.name)}`;
  if (r.fsType === 'crypto_LUKS') {
    return [`crypttab: ${r.name}-crypt  ${node}  none  luks`, `fstab:    /dev/mapper/${r.name}-crypt  ${at}  auto  defaults  0  2`];
  }
  return [`fstab:    ${node}  ${at}  ${r.fsType ?? 'auto'}  defaults  0  2`];
}

export interface EnrollOptions extends LifecycleOptions {
  /** the partition, e.g. /dev/sda3, or the mount point of the filesystem on it */
  readonly device: string;
  readonly name: string;
  /** the tables the boot mounts from (default /etc/fstab, /etc/crypttab) */
  readonly tables?: BootTables;
  /** leave fstab and crypttab alone: only say what to change */
  readonly printOnly?: boolean;
}

export type { TableOutcome } from './enroll-tables.js';

export interface EnrollResult {
  readonly name: string;
  readonly device: string;
  /** the passthrough was made now (false: the partition is mounted directly; it is made at the next boot) */
  readonly mappedNow: boolean;
  /** the fstab (crypttab) edit; undefined with printOnly */
  readonly table?: TableOutcome;
  /** what to write by hand, when the table was not edited */
  readonly lines: string[];
  readonly message: string;
}

/** The partition named by a device node or by the mount point of its filesystem. */
function partitionOf(platform: Platform, given: string): DeviceNumber {
  return platform.mountedDevice(given) ?? platform.blockDevice(given);
}

/** Everything enroll refuses, before anything is made. */
async function checkEnroll(
  platform: Platform,
  dir: StateDir | undefined,
  o: EnrollOptions,
): Promise<{ dev: DeviceNumber; record: Omit<EnrolledRecord, 'enrolledAt'>; mounted: string | undefined; rerunOf: EnrolledRecord | undefined; plan: TablePlan | undefined }> {
  const name = checkName(o.name, 'enrolled device');
  if (endsLikeARole(name)) throw new SnapstoreError('BAD_NAME', `name "${name}" ends like the name of one of a snapshot's devices (-cow, -real, -snap)`, { hint: 'pick another name', usage: true });
  const dev = partitionOf(platform, o.device);
  const dm = platform.dm.nameOf(dev);
  if (dm !== undefined) {
    throw new SnapstoreError('ENROLL_REFUSED', `${o.device} is the dm device ${dm}: checkpoints work on it as it is, nothing needs enrolling`, { hint: `snapstore create NAME --origin /dev/mapper/${dm} ...` });
  }
  const d = await platform.describeDevice(dev);
  const record = { version: ENROLLED_VERSION, name, ...(d.partUuid ? { partUuid: d.partUuid } : {}), kernelName: d.kernelName, sectors: d.sectors, ...(d.fsType ? { fsType: d.fsType } : {}) } as const;
  const node = `/dev/mapper/${enrolledDevice(name)}`;
  // Worked out (and the table's trust checked) before anything is made.
  const plan = o.printOnly
    ? undefined
    : planEnrollEdit(o.tables ?? SYSTEM_TABLES, d.fsType === 'crypto_LUKS', name, node, {
        ...d,
        isDevice: (p) => {
          try {
            return sameDevice(platform.blockDevice(p), dev);
          } catch {
            return false;
          }
        },
      });
  const mounted = platform.mountedAt(dev);
  const had = dir ? findEnrolled(dir, name) : undefined;
  // The same partition enrolled under the same name: a rerun (after a crash before the table was edited) finishes the edit.
  if (had && had.kernelName === d.kernelName && had.partUuid === d.partUuid && had.sectors === d.sectors) return { dev, record, mounted, rerunOf: had, plan };
  if (dir) {
    if (had) throw new SnapstoreError('ENROLL_REFUSED', `a device is enrolled as "${name}" already`, { hint: '`snapstore unenroll` it first, or pick another name' });
    for (const other of enrolledNames(dir)) {
      const r = findEnrolled(dir, other)!;
      if ((r.partUuid !== undefined && r.partUuid === d.partUuid) || (r.partUuid === undefined && r.kernelName === d.kernelName)) {
        throw new SnapstoreError('ENROLL_REFUSED', `${o.device} is enrolled already, as "${other}"`, { hint: 'nothing to do' });
      }
    }
    const s = findSnapshot(dir, name);
    if (s && !isFinished(s.state)) throw new SnapstoreError('ENROLL_REFUSED', `"${name}" is the name of snapshot "${name}" (${s.state}); its device would be /dev/mapper/snapstore-${name} too`, { hint: 'pick another name' });
  }
  if (d.holders.length) {
    throw new SnapstoreError('ENROLL_REFUSED', `${o.device} is held by ${d.holders.join(', ')}: something is stacked on it already`, { hint: 'enroll the partition a filesystem (or crypttab) uses directly, with nothing set up over it' });
  }
  if (platform.dm.find(enrolledDevice(name))) throw new SnapstoreError('ENROLL_REFUSED', `a dm device ${enrolledDevice(name)} exists already`, { hint: 'pick another name' });
  return { dev, mounted, record, rerunOf: undefined, plan };
}

function tableText(t: TableOutcome | undefined, node: string): string {
  if (t === undefined) return `Change fstab (crypttab) as below, naming ${node}, never UUID= (the partition carries the same filesystem UUID)`;
  if (t.outcome === 'rewritten') return `${t.file}: its line now names ${node} (the line it was is kept above it as a comment; \`snapstore unenroll\` puts it back)`;
  if (t.outcome === 'already') return `${t.file} names ${node} already`;
  return `${t.file} was left alone: ${t.why}. Change it as below, naming ${node}, never UUID= (the partition carries the same filesystem UUID)`;
}

export async function enrollDevice(options: EnrollOptions): Promise<EnrollResult> {
  const log = options.log ?? (() => {});
  // Refused before anything is made, the state directory included.
  await withPlatform(options.platform, (platform) => checkEnroll(platform, StateDir.find(options.stateDir), options));
  return withLifecycle(options, true, async (platform, lock) => {
    const { dev, record: r, mounted, rerunOf, plan } = await checkEnroll(platform, lock.dir, options);
    const rerun = rerunOf !== undefined;
    const record: EnrolledRecord = rerunOf ?? { ...r, enrolledAt: new Date().toISOString() };
    const node = `/dev/mapper/${enrolledDevice(r.name)}`;
    // Written before the passthrough is made and the table edited: an activate after a crash makes it, a rerun edits the table.
    const mappedNow = await withUndo(async (undo) => {
      faultPoint('before:record enrolled');
      if (!rerun) {
        ENROLLED.write(lock, r.name, record);
        undo.push(`the enrollment record of "${r.name}"`, () => unlinkDurable(ENROLLED.path(lock.dir.path, r.name)));
      }
      faultPoint('after:record enrolled');
      let made = false;
      if (mounted === undefined && !platform.dm.find(enrolledDevice(r.name))) {
        await platform.dm.createDevice(enrolledDevice(r.name), dmUuid(r.name, 'origin'), passthroughTable(r, dev));
        undo.push(node, () => platform.dm.remove(enrolledDevice(r.name)));
        made = true;
        log(`mapped ${options.device} as ${node}`);
      }
      plan?.apply();
      faultPoint('after:table edited');
      return made;
    });
    const table = plan?.table;
    const lines = table?.outcome === 'rewritten' || table?.outcome === 'already' ? [] : mountLines(record, mounted);
    const was = rerun ? `"${r.name}" was enrolled already (${options.device})` : `enrolled ${options.device} as "${r.name}"`;
    const message = mounted === undefined
      ? `${was}: ${node} maps it${mappedNow ? ' now' : ''}, and \`snapstore activate\` maps it at every boot before anything mounts it; checkpoints take --origin ${node}. ${tableText(table, node)}`
      : `${was}: it is mounted directly at ${mounted}, so ${node} is made at the next boot (\`snapstore activate\`, before anything mounts it). ${tableText(table, node)}`;
    return { name: r.name, device: options.device, mappedNow, ...(table ? { table } : {}), lines, message };
  });
}

export interface UnenrollResult {
  readonly name: string;
  /** the passthrough was removed now (false: it is in use and goes with the next boot) */
  readonly removedNow: boolean;
  /** the fstab (crypttab) line enroll replaced, put back */
  readonly restored?: { readonly file: string; readonly line: string };
  readonly message: string;
}

export async function unenrollDevice(options: LifecycleOptions & { readonly name: string; readonly tables?: BootTables; readonly printOnly?: boolean }): Promise<UnenrollResult> {
  return withLifecycle(options, false, async (platform, lock) => {
    const r = findEnrolled(lock.dir, options.name);
    if (!r) throw new SnapstoreError('NOT_ENROLLED', `no device is enrolled as "${options.name}" in ${lock.dir.path}`, { hint: '`snapstore status` lists what is enrolled' });
    const node = enrolledDevice(r.name);
    const users = snapshotNames(lock.dir, (d) => fs.readdirSync(d))
      .map((n) => findSnapshot(lock.dir, n)!)
      .filter((m) => !isFinished(m.state) && m.origin.dmName === node);
    if (users.length) {
      throw new SnapstoreError('ENROLL_REFUSED', `snapshot "${users[0]!.name}" (${users[0]!.state}) is of ${node}: the passthrough must stay while it lives`, { hint: `commit or roll back snapshot "${users[0]!.name}" first` });
    }
    const storesFolder = lock.dir.folder('stores');
    const onIt = (storesFolder ? fs.readdirSync(storesFolder) : [])
      .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
      .map((f) => f.slice(0, -'.json'.length))
      .find((n) => findManifest(lock.dir, n)?.device.dmName === node);
    if (onIt !== undefined) {
      throw new SnapstoreError('ENROLL_REFUSED', `store "${onIt}" lives on the filesystem mounted from ${node}, and is found again through it`, { hint: `delete the store first (\`snapstore store delete ${onIt}\`)` });
    }
    // Found (and the table's trust checked) before anything changes.
    const restore = options.printOnly ? undefined : planUnenrollEdit(options.tables ?? SYSTEM_TABLES, r.name);
    const info = platform.dm.find(node);
    const removedNow = info !== undefined && info.openCount === 0;
    if (removedNow) await platform.dm.remove(node);
    // The table first: a crash before the record goes leaves it enrolled, and a rerun finishes.
    restore?.apply();
    faultPoint('after:table restored');
    unlinkDurable(ENROLLED.path(lock.dir.path, r.name));
    const plain = r.partUuid ? `PARTUUID=${r.partUuid}` : `/dev/${r.kernelName}`;
    const table = restore
      ? `${restore.file}: the line enroll replaced is back (${restore.line.trim()})`
      : `change fstab (crypttab) to mount the partition itself (${plain}, or its filesystem's UUID=)`;
    return {
      name: r.name,
      removedNow,
      ...(restore ? { restored: { file: restore.file, line: restore.line } } : {}),
      message: removedNow || !info
        ? `"${r.name}" is no longer enrolled: ${node} is gone; ${table}`
        : `"${r.name}" is no longer enrolled: ${node} is in use and goes with the next boot; ${table}${restore ? '' : ' before then'}`,
    };
  });
}

export type MapAction = 'mapped' | 'already-mapped' | 'not-mapped';

/**
 * At boot, before anything mounts it: the passthrough of enrolled device
 * `r` made if it is not there. A partition mounted directly (the enrollment
 * was made while it was mounted, and fstab still names it) is left, said.
 */
export async function mapEnrolled(platform: Platform, r: EnrolledRecord): Promise<{ action: MapAction; message: string }> {
  const node = enrolledDevice(r.name);
  const dev = await platform.findDevice({ ...(r.partUuid ? { partUuid: r.partUuid } : {}), kernelName: r.kernelName });
  const what = r.partUuid ? `the partition with PARTUUID ${r.partUuid}` : `/dev/${r.kernelName}`;
  if (!dev) {
    throw new SnapstoreError('DEVICE_NOT_FOUND', `${what}, enrolled as "${r.name}", is not present`, { hint: 'activate runs after the disks are found at boot; `snapstore unenroll` if the partition is gone for good' });
  }
  const d = await platform.describeDevice(dev);
  if (d.sectors !== r.sectors) {
    throw new SnapstoreError('ORIGIN_CHANGED', `/dev/${d.kernelName} is ${d.sectors} sectors, not ${r.sectors} as when it was enrolled as "${r.name}": it is another device`, { hint: 'nothing was mapped; check which device the partition is now' });
  }
  const have = platform.dm.find(node);
  if (have) {
    const t = platform.dm.table(node);
    const only = t.length === 1 ? t[0] : undefined;
    if (only instanceof LinearTarget && sameDevice(only.device, dev) && only.offset === 0) return { action: 'already-mapped', message: `${node} maps ${what}` };
    // A checkpoint of it moves its table aside: that is ours too, and activate's to rebuild.
    return { action: 'already-mapped', message: `${node} is there (its table is a snapshot's now)` };
  }
  const mounted = platform.mountedAt(dev);
  if (mounted !== undefined || d.holders.length) {
    return { action: 'not-mapped', message: `${what}, enrolled as "${r.name}", is ${mounted !== undefined ? `mounted directly at ${mounted}` : `held by ${d.holders.join(', ')}`}: ${node} cannot be made; name ${node} in fstab/crypttab, and reboot` };
  }
  await platform.dm.createDevice(node, dmUuid(r.name, 'origin'), passthroughTable(r, dev));
  return { action: 'mapped', message: `mapped ${what} as /dev/mapper/${node}` };
}

/** The enrolled devices, mapped at activate (each one's outcome). */
export async function mapAllEnrolled(platform: Platform, lock: StateLock): Promise<{ name: string; action: MapAction; message: string }[]> {
  const out = [];
  for (const name of enrolledNames(lock.dir)) out.push({ name, ...(await mapEnrolled(platform, findEnrolled(lock.dir, name)!)) });
  return out;
}
