// The "device" of the Mender suite (agents-mender.test.ts): a data filesystem on a dm
// passthrough, and a metadata disk that holds snapstore's state directory and Mender's
// data directory (neither may be on the filesystem a rollback rolls back). Mender 3.4
// runs standalone (`mender install FILE`, `commit`, `rollback`) with no server; the
// artifacts are module-images of the `single-file` update module, which puts a file
// into a "slot" folder, standing in for the inactive rootfs partition: an A/B rootfs
// update needs a bootloader Mender can switch, which the VM has not. Each artifact
// carries the four state scripts of examples/mender/ as they are, and a "migration"
// (ArtifactInstall_Leave_60) that changes the data filesystem, as a new version's
// first start would.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { snapshotStatus } from '../../src/snapshot/status.js';
import { guestDisk, run } from '../vm/guest.js';
import { sh } from './lifecycle-helpers.js';

export const MMETA = '/tmp/mnt/mmeta';
export const MDATA = '/tmp/mnt/mdata';
export const ORIGIN = '/dev/mapper/mdata';
export const STATE = `${MMETA}/snapstore`;
export const SLOT = '/tmp/slot';
export const SCRIPTS = ['ArtifactInstall_Enter_50_snapstore', 'ArtifactCommit_Leave_50_snapstore', 'ArtifactRollback_Enter_50_snapstore', 'ArtifactFailure_Enter_50_snapstore'] as const;

const WORK = '/tmp/mender-test';
const CONF = `${WORK}/snapstore-mender.conf`;
const BIN = `${WORK}/bin`;

/**
 * What every boot does first: the passthrough over the data disk (as the system's
 * boot sets it up), the metadata disk mounted, and Mender set up: /etc/mender (read-only
 * here) covered by a tmpfs holding the artifact_info Mender reads the installed
 * artifact's name from when its database has none, the slot holding version 0.
 */
export function menderDevice(format: boolean): void {
  const data = guestDisk('mdata');
  run('dmsetup', ['create', 'mdata', '--table', `0 ${run('blockdev', ['--getsz', data]).trim()} linear ${data} 0`]);
  if (format) run('mkfs.ext4', ['-q', '-F', guestDisk('mmeta')]);
  fs.mkdirSync(MMETA, { recursive: true });
  run('mount', [guestDisk('mmeta'), MMETA]);
  fs.mkdirSync(MDATA, { recursive: true });
  fs.mkdirSync(`${MMETA}/mender`, { recursive: true });
  fs.writeFileSync(`${MMETA}/mender/device_type`, 'device_type=snapstore-vm\n');
  run('mount', ['-t', 'tmpfs', 'mender-etc', '/etc/mender']);
  fs.writeFileSync('/etc/mender/artifact_info', 'artifact_name=app-v0\n');
  fs.mkdirSync(SLOT, { recursive: true });
  fs.writeFileSync(`${SLOT}/app`, 'app version 0\n');
  fs.mkdirSync(BIN, { recursive: true });
  fs.symlinkSync(path.resolve('bin/snapstore'), `${BIN}/snapstore`);
  fs.writeFileSync(`${WORK}/mender.conf`, JSON.stringify({ DeviceTypeFile: `${MMETA}/mender/device_type`, DBus: { Enabled: false } }));
  // The settings the scripts read, as examples/mender/snapstore-mender.conf documents them.
  fs.writeFileSync(CONF, [`SNAPSTORE_ORIGIN=${ORIGIN}`, `SNAPSTORE_STORE=${MDATA}/.snapstore/mender.store`, 'SNAPSTORE_SIZE=24M', `SNAPSTORE_STATE_DIR=${STATE}`, ''].join('\n'));
}

export function undoDevice(): void {
  sh(`sync; umount ${MDATA} ${MMETA} /etc/mender 2>/dev/null; dmsetup remove mdata 2>/dev/null; true`);
}

/** The environment Mender runs with, and so its state scripts: snapstore on PATH, the scripts' settings. */
const env = (): NodeJS.ProcessEnv => ({ ...process.env, PATH: `${BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`, SNAPSTORE_MENDER_CONF: CONF });

export interface Ran {
  status: number | null;
  /** the exit and everything printed, for expect()'s messages */
  said: string;
}

function spawn(cmd: string, args: string[]): Ran {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: env() });
  return { status: r.status, said: `${cmd} ${args.join(' ')}: exit ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}` };
}

/** `mender ARGS` in standalone mode, its data directory on the metadata disk. */
export function mender(...args: string[]): Ran {
  return spawn('mender', ['--config', `${WORK}/mender.conf`, '--data', `${MMETA}/mender`, '--no-syslog', ...args]);
}

/** One of examples/mender's scripts run by itself, as Mender runs it again after a power loss. */
export function script(name: (typeof SCRIPTS)[number]): Ran {
  return spawn(path.resolve('examples/mender', name), []);
}

/** `snapstore ARGS` through the CLI, as the boot runs it. */
/**
 * examples/greenboot's `snapstore-ostree ACTION`, or a green.d/red.d script run by bash as
 * greenboot runs it, on this device's data filesystem: its checkpoint "ostree" (no OSTree
 * here; the path unit's service runs `snapstore-ostree checkpoint`).
 */
export function greenboot(file: string, ...args: string[]): Ran {
  const conf = `${WORK}/snapstore-ostree.conf`;
  fs.writeFileSync(conf, [`SNAPSTORE_ORIGIN=${ORIGIN}`, `SNAPSTORE_STORE=${MDATA}/.snapstore/ostree.store`, 'SNAPSTORE_SIZE=24M', `SNAPSTORE_STATE_DIR=${STATE}`, ''].join('\n'));
  const r = spawnSync(file.endsWith('.sh') ? 'bash' : file, file.endsWith('.sh') ? [file, ...args] : args, {
    encoding: 'utf8',
    env: { ...env(), PATH: `${path.resolve('examples/greenboot')}:${env().PATH}`, SNAPSTORE_OSTREE_CONF: conf },
  });
  return { status: r.status, said: `${file} ${args.join(' ')}: exit ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}` };
}

export function snapstore(...args: string[]): Ran {
  const r = spawnSync('node', ['bin/snapstore', ...args, '--state-dir', STATE], { encoding: 'utf8' });
  return { status: r.status, said: `snapstore ${args.join(' ')}: exit ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}` };
}

/** The checkpoint's state, health and store file, read in this process (a CLI start costs seconds here). */
export function checkpoint(name = 'mender'): { state: string; health: string; store: string | null } {
  const [s] = snapshotStatus({ stateDir: STATE, name });
  if (!s) throw new Error(`no checkpoint "${name}" in ${STATE}`);
  return { state: s.state, health: s.health, store: s.store.file };
}

/**
 * The artifact `app-vN`: version N of the app into the slot, the four scripts of
 * examples/mender/, and a migration that rewrites a file, deletes one and adds 4 MiB
 * on the data filesystem.
 */
export function artifact(version: number): string {
  const dir = `${WORK}/app-v${version}`;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(`${dir}/app`, `app version ${version}\n`);
  fs.writeFileSync(`${dir}/dest_dir`, `${SLOT}\n`);
  fs.writeFileSync(`${dir}/filename`, 'app\n');
  const migrate = `${dir}/ArtifactInstall_Leave_60_migrate`;
  const data = MDATA;
  fs.writeFileSync(
    migrate,
    `#!/bin/sh\nset -e\necho "settings of version ${version}" > ${data}/settings\nrm -f ${data}/cache-0\nhead -c 4194304 /dev/urandom > ${data}/db-v${version}\nsync\n`,
    { mode: 0o755 },
  );
  const scripts = [...SCRIPTS.map((s) => path.resolve('examples/mender', s)), migrate];
  const out = `${WORK}/app-v${version}.mender`;
  run('mender-artifact', [
    'write', 'module-image', '-T', 'single-file', '-t', 'snapstore-vm', '-n', `app-v${version}`, '--compression', 'none', '-o', out,
    ...['app', 'dest_dir', 'filename'].flatMap((f) => ['-f', `${dir}/${f}`]),
    ...scripts.flatMap((s) => ['-s', s]),
  ]);
  return out;
}

/** The data filesystem as the app had it: some settings, caches, a database. */
export function fillData(): void {
  fs.writeFileSync(`${MDATA}/settings`, 'settings of version 0\n');
  for (let i = 0; i < 3; i++) fs.writeFileSync(`${MDATA}/cache-${i}`, `cache ${i}\n`.repeat(5000));
  fs.writeFileSync(`${MDATA}/db-v0`, Buffer.alloc(2 << 20, 7));
  fs.mkdirSync(`${MDATA}/.snapstore`, { mode: 0o700 });
  sh('sync');
}
