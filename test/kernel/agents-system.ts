// The "devices" of the update-agent tests (agents-rauc-swupdate.test.ts): each data
// filesystem on a part of one disk (a dm linear device, as a system's passthrough),
// with its own snapstore state directory, settings and agent record on the metadata
// part; the agents' real clients run the hooks of examples/ as they are.
//   rgood, rbad, rfail: RAUC (a real `rauc install` of a signed bundle; its service on a
//                private D-Bus, its bootloader the custom backend agents-rauc-bootloader.sh)
//   sgood, sbad: SWUpdate (a real `swupdate -i` of a signed .swu)
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { guestDisk, loadModule, run } from '../vm/guest.js';
import { activateSnapshots, type ActivateResult } from '../../src/snapshot/activate.js';
import { rollbackSnapshot } from '../../src/snapshot/rollback.js';
import { snapshotStatus, type SnapshotReport } from '../../src/snapshot/status.js';
import { sh, tree } from './lifecycle-helpers.js';

export const AMETA = '/tmp/mnt/ameta';
export const REPO = process.cwd();
export const PKI = `${AMETA}/pki`;
const BUS = '/run/agents-bus';

/** Where each part lies on the one disk `ag` (MiB): the metadata, then one data filesystem per device. */
const PARTS = [
  { name: 'meta', at: 0, size: 64 },
  { name: 'rgood', at: 64, size: 64 },
  { name: 'rbad', at: 128, size: 64 },
  { name: 'sgood', at: 192, size: 64 },
  { name: 'sbad', at: 256, size: 64 },
  { name: 'rfail', at: 320, size: 64 },
] as const;
export type DeviceKey = 'rgood' | 'rbad' | 'rfail' | 'sgood' | 'sbad';

export const dataDev = (key: string): string => `/dev/mapper/ag-${key}`;
export const dataMnt = (key: string): string => `/tmp/mnt/${key}`;
export const home = (key: string): string => `${AMETA}/${key}`;
export const stateDir = (key: string): string => `${home(key)}/state`;
const conf = (key: string): string => `${home(key)}/checkpoint.conf`;

/**
 * What every boot does first: the disk's parts, squashfs (RAUC mounts its
 * bundles' squashfs over a loop device), the agents' bus. Returns the shutdown.
 */
export function bootAgents(format: boolean): () => void {
  bootSystem(format);
  loadModule('squashfs');
  const stopBus = startBus();
  return () => {
    stopBus();
    shutdownSystem();
  };
}

/** A dm linear device over each part of the disk, the metadata mounted. */
function bootSystem(format: boolean): void {
  const d = guestDisk('ag');
  for (const p of PARTS) run('dmsetup', ['create', `ag-${p.name}`, '--table', `0 ${p.size * 2048} linear ${d} ${p.at * 2048}`]);
  if (format) run('mkfs.ext4', ['-q', '-F', dataDev('meta')]);
  fs.mkdirSync(AMETA, { recursive: true });
  run('mount', [dataDev('meta'), AMETA]);
  for (const p of PARTS) fs.mkdirSync(dataMnt(p.name), { recursive: true }); // the guest's /tmp is new at every boot
}

function shutdownSystem(): void {
  sh(`umount /proc/cmdline 2>/dev/null; umount ${PARTS.slice(1).map((p) => dataMnt(p.name)).join(' ')} ${AMETA} 2>/dev/null; true`);
}

/** A device's data filesystem made, with files, its store folder and the settings the examples' hooks read (examples/common). */
export function makeDevice(key: DeviceKey): void {
  fs.mkdirSync(home(key), { recursive: true });
  run('mkfs.ext4', ['-q', '-F', dataDev(key)]);
  run('mount', [dataDev(key), dataMnt(key)]);
  fs.mkdirSync(`${dataMnt(key)}/.snapstore`, { mode: 0o700 });
  fs.mkdirSync(`${dataMnt(key)}/app`);
  for (let i = 0; i < 4; i++) fs.writeFileSync(`${dataMnt(key)}/app/db-${i}`, `${key} record ${i}, before the update\n`.repeat(2000));
  sh('sync');
  fs.writeFileSync(
    conf(key),
    [
      `SNAPSTORE_ORIGIN=${dataDev(key)}`,
      `SNAPSTORE_STORE_DIR=${dataMnt(key)}/.snapstore`,
      'SNAPSTORE_SIZE=16M',
      'SNAPSTORE_BOOT_ATTEMPTS=1',
      `SNAPSTORE_STATE_DIR=${stateDir(key)}`,
      `SNAPSTORE=${REPO}/bin/snapstore`,
      // dm names are the machine's: each device's checkpoints their own
      `SNAPSTORE_NAME_PREFIX=${key}-`,
      '',
    ].join('\n'),
  );
}

/** The data as it is now, kept on the metadata disk for a later boot. */
export function saveData(key: string, label: string): void {
  fs.writeFileSync(`${home(key)}/${label}.json`, JSON.stringify(tree(dataMnt(key))));
}
export const savedData = (key: string, label: string): unknown => JSON.parse(fs.readFileSync(`${home(key)}/${label}.json`, 'utf8'));

/** What a new system does to the data at its first boot: a migration that rewrites, deletes and adds. */
export function migrate(key: string): void {
  fs.writeFileSync(`${dataMnt(key)}/app/db-0`, 'schema 2\n');
  fs.rmSync(`${dataMnt(key)}/app/db-1`);
  fs.writeFileSync(`${dataMnt(key)}/app/db-new`, 'added by the new system\n'.repeat(3000));
  sh('sync');
}

/** A test key and self-signed certificate, made once, for both agents' signatures. */
export function makeTestPki(): void {
  fs.mkdirSync(PKI, { recursive: true });
  run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${PKI}/key.pem`, '-out', `${PKI}/cert.pem`, '-days', '7', '-subj', '/O=snapstore test/CN=snapstore agents test']);
}

/** The environment the agents' hooks see: the device's settings, its bootloader record, the private bus. */
export function agentEnv(key: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    SNAPSTORE_CHECKPOINT_CONF: conf(key),
    AGENTS_BOOT_DIR: `${home(key)}/boot`,
    DBUS_STARTER_BUS_TYPE: 'session',
    DBUS_SESSION_BUS_ADDRESS: `unix:path=${BUS}`,
  };
}

export interface Ran {
  readonly status: number | null;
  readonly stdout: string;
  readonly said: string;
}

/** A program with a device's agent environment: exit, output, and all it said. */
export function agentRun(key: string, cmd: string, args: string[]): Ran {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: agentEnv(key) });
  return { status: r.status, stdout: r.stdout, said: `${cmd} ${args.join(' ')}: exit ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}` };
}

/** The device's checkpoint NAME (without the device's prefix) as `snapstore status` reports it; read in-process (a CLI start costs seconds here). */
export function checkpoint(key: string, name: string): SnapshotReport | undefined {
  return snapshotStatus({ stateDir: stateDir(key) }).find((c) => c.name === `${key}-${name}`);
}

/** The boot's `snapstore activate` of a device, before its data filesystem is mounted (in-process, as the library); its result for NAME. */
export async function activate(key: string, name: string): Promise<ActivateResult | undefined> {
  const t0 = performance.now();
  const r = await activateSnapshots({ stateDir: stateDir(key), log: () => {} });
  console.log(`${key}: activate ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return r.find((a) => a.name === `${key}-${name}`);
}

/** `snapstore rollback NAME --wait`: the merge activate started, waited for; the store deleted. */
export async function finishRollback(key: string, name: string): Promise<void> {
  const t0 = performance.now();
  await rollbackSnapshot({ stateDir: stateDir(key), name: `${key}-${name}`, wait: true, log: () => {} });
  console.log(`${key}: rollback --wait ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

// --- RAUC ---

/** The session bus RAUC's service and client talk over (the VM runs no system bus). */
function startBus(): () => void {
  const pid = run('dbus-daemon', ['--session', '--fork', `--address=unix:path=${BUS}`, '--print-pid']).trim();
  return () => sh(`kill ${pid} 2>/dev/null; true`);
}

/** The system.conf of a RAUC device: slots A and B (files on the metadata disk), the custom bootloader, our pre-install handler. */
export function makeRaucDevice(key: DeviceKey): void {
  makeDevice(key);
  const h = home(key);
  fs.mkdirSync(`${h}/boot`);
  fs.mkdirSync(`${h}/rauc`);
  fs.mkdirSync(`${h}/mnt`);
  fs.writeFileSync(`${h}/boot/primary`, 'A\n');
  for (const s of ['A', 'B']) fs.writeFileSync(`${h}/slot${s}`, Buffer.alloc(2 << 20));
  fs.writeFileSync(
    `${h}/system.conf`,
    `[system]
compatible=snapstore-vm
bootloader=custom
# RAUC's own record, off the data filesystem (a rollback there would roll it back too)
data-directory=${h}/rauc
mountprefix=${h}/mnt
bundle-formats=plain

[handlers]
bootloader-custom-backend=${REPO}/test/kernel/agents-rauc-bootloader.sh
pre-install=${REPO}/examples/rauc/snapstore-pre-install

[keyring]
path=${PKI}/cert.pem

[slot.rootfs.0]
device=${h}/slotA
type=raw
bootname=A

[slot.rootfs.1]
device=${h}/slotB
type=raw
bootname=B
`,
  );
}

/** The slot the bootloader boots: the primary, unless it was marked bad. */
export function bootedSlot(key: string): 'A' | 'B' {
  const dir = `${home(key)}/boot`;
  const primary = fs.readFileSync(`${dir}/primary`, 'utf8').trim() as 'A' | 'B';
  const bad = fs.existsSync(`${dir}/state.${primary}`) && fs.readFileSync(`${dir}/state.${primary}`, 'utf8').trim() === 'bad';
  return bad ? (primary === 'A' ? 'B' : 'A') : primary;
}

/**
 * RAUC's service for a device booted from `slot`: the kernel command line says
 * `rauc.slot=SLOT` (a file bound over /proc/cmdline, as the bootloader would
 * pass it), which RAUC reads once when it starts. Returns its stop.
 */
export function raucService(key: string, slot: 'A' | 'B'): () => void {
  fs.writeFileSync('/run/agents-cmdline', `console=ttyS0 rauc.slot=${slot}\n`);
  sh('umount /proc/cmdline 2>/dev/null; true');
  run('mount', ['--bind', '/run/agents-cmdline', '/proc/cmdline']);
  const log = fs.openSync(`${home(key)}/rauc-service.log`, 'a');
  const child = spawn('rauc', [`--conf=${home(key)}/system.conf`, 'service'], { env: agentEnv(key), stdio: ['ignore', log, log], detached: true });
  fs.closeSync(log);
  const t0 = Date.now();
  for (;;) {
    const r = agentRun(key, 'rauc', ['status', '--output-format=shell']);
    if (r.status === 0 && r.stdout.includes(`RAUC_SYSTEM_BOOTED_BOOTNAME='${slot}'`)) break;
    if (Date.now() - t0 > 30_000) throw new Error(`rauc service of ${key} did not answer in 30 s: ${r.said}\n${fs.readFileSync(`${home(key)}/rauc-service.log`, 'utf8')}`);
    sh('sleep 0.2');
  }
  return () => {
    child.kill('SIGTERM');
    sh('umount /proc/cmdline 2>/dev/null; true');
  };
}

/** `rauc install BUNDLE` through the device's service; what it said includes the service's log, where the handler's output goes. */
export function raucInstall(key: string, bundle: string): Ran {
  const r = agentRun(key, 'rauc', ['install', bundle]);
  const log = fs.readFileSync(`${home(key)}/rauc-service.log`, 'utf8').split('\n').slice(-40).join('\n');
  return { ...r, said: `${r.said}\nrauc service log (the end):\n${log}` };
}

/**
 * A signed RAUC bundle of a 1 MiB rootfs image; `failing` adds a slot
 * post-install hook that fails (an install that breaks after pre-install).
 * Made once (on the kept disk) and used by every device.
 */
export function raucBundle(name: string, failing = false): string {
  const out = `${AMETA}/${name}.raucb`;
  if (fs.existsSync(out)) return out;
  const dir = `${AMETA}/bundle-${name}`;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(`${dir}/rootfs.img`, Buffer.alloc(1 << 20, name));
  fs.writeFileSync(
    `${dir}/manifest.raucm`,
    `[update]\ncompatible=snapstore-vm\nversion=2.0-${name}\n\n[bundle]\nformat=plain\n\n[image.rootfs]\nfilename=rootfs.img\n${failing ? 'hooks=post-install\n\n[hooks]\nfilename=hook.sh\n' : ''}`,
  );
  if (failing) fs.writeFileSync(`${dir}/hook.sh`, '#!/bin/sh\necho "the slot hook fails on purpose" >&2\nexit 1\n', { mode: 0o755 });
  run('rauc', ['bundle', `--cert=${PKI}/cert.pem`, `--key=${PKI}/key.pem`, dir, out]);
  return out;
}

export const example = (p: string): string => path.join(REPO, 'examples', p);

// --- SWUpdate ---

/** The GRUB environment block SWUpdate keeps its state in (`ustate`): 1024 bytes, `#`-padded. */
export function grubEnv(key: string): Record<string, string> {
  const text = fs.readFileSync(`${home(key)}/boot/grub/grubenv`, 'utf8');
  return Object.fromEntries([...text.matchAll(/^([A-Za-z_]\w*)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/** Sets variables of the block, as the device's own health check would (`grub-editenv ... set ustate=0`). */
export function setGrubEnv(key: string, vars: Record<string, string>): void {
  const all = { ...(fs.existsSync(`${home(key)}/boot/grub/grubenv`) ? grubEnv(key) : {}), ...vars };
  const body = `# GRUB Environment Block\n${Object.entries(all).map(([k, v]) => `${k}=${v}\n`).join('')}`;
  fs.writeFileSync(`${home(key)}/boot/grub/grubenv`, body.padEnd(1024, '#'));
}

/**
 * A SWUpdate device: its swupdate.cfg (the GRUB bootloader interface, our
 * preupdatecmd), its GRUB environment, and in the hooks' settings how to read
 * `ustate` from that environment.
 */
export function makeSwuDevice(key: DeviceKey): void {
  makeDevice(key);
  const h = home(key);
  fs.mkdirSync(`${h}/boot/grub`, { recursive: true });
  setGrubEnv(key, {});
  fs.writeFileSync(`${h}/slotB`, Buffer.alloc(2 << 20));
  fs.writeFileSync(`${h}/swupdate.cfg`, `globals :\n{\n  bootloader = "grub";\n  preupdatecmd = "${REPO}/examples/swupdate/snapstore-swupdate-pre";\n};\n`);
  fs.appendFileSync(conf(key), "swupdate_ustate() { sed -n 's/^ustate=//p' /boot/grub/grubenv; }\n");
}

/**
 * Runs `fn` with the device's GRUB environment at /boot/grub/grubenv, the
 * path SWUpdate's GRUB interface is built with (the guest's /boot is the
 * host's, empty and read-only: the device's folder is bound over it).
 */
export function withBoot<T>(key: string, fn: () => T): T {
  run('mount', ['--bind', `${home(key)}/boot`, '/boot']);
  try {
    return fn();
  } finally {
    run('umount', ['/boot']);
  }
}

/** A .swu: sw-description (a raw image into the device's slot file, or into a path that cannot be written) signed with the test key (CMS), then the image, in a cpio archive. */
export function swu(key: string, name: string, failing = false): string {
  const dir = `${AMETA}/swu-${key}-${name}`;
  fs.mkdirSync(dir, { recursive: true });
  const image = Buffer.alloc(1 << 20, name);
  fs.writeFileSync(`${dir}/rootfs.img`, image);
  const sha = run('sha256sum', [`${dir}/rootfs.img`]).split(' ')[0];
  const device = failing ? '/nonexistent/slotB' : `${home(key)}/slotB`;
  fs.writeFileSync(
    `${dir}/sw-description`,
    `software =\n{\n  version = "2.0-${name}";\n  hardware-compatibility = [ "1.0" ];\n  images: (\n    {\n      filename = "rootfs.img";\n      device = "${device}";\n      type = "raw";\n      sha256 = "${sha}";\n    }\n  );\n}\n`,
  );
  run('openssl', ['cms', '-sign', '-in', `${dir}/sw-description`, '-out', `${dir}/sw-description.sig`, '-signer', `${PKI}/cert.pem`, '-inkey', `${PKI}/key.pem`, '-outform', 'DER', '-nosmimecap', '-binary']);
  const out = `${AMETA}/${key}-${name}.swu`;
  // sw-description first, its signature next: SWUpdate reads the archive as a stream.
  sh(`cd ${dir} && printf 'sw-description\\nsw-description.sig\\nrootfs.img\\n' | cpio -o -H crc --quiet > ${out}`);
  return out;
}

/** `swupdate -i` of a .swu on a device, checked against the test certificate; the hardware named on the command line (/etc/hwrevision is the host's). */
export function swupdate(key: string, file: string): Ran {
  return agentRun(key, 'swupdate', ['-v', '-H', 'snapstore-vm:1.0', '-f', `${home(key)}/swupdate.cfg`, '-k', `${PKI}/cert.pem`, '-i', file]);
}
