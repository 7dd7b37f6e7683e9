// The kernel test bed, host side: boots the Debian kernel that test/vm/setup.sh cached under
// .cache/vm/ in qemu (TCG), with the host root shared read-only over virtio-9p, runs one
// command in a chroot of it (cwd = the repo root, same absolute path as on the host), and
// returns its exit code, the console output and the guest's kernel release.
//
// Disks are blank raw images attached as virtio disks: /dev/vda, /dev/vdb, ... in the order
// given; each disk's name is also its virtio serial (/sys/block/vdX/serial in the guest).
// Results come back through a writable 9p share: the guest sees it at GUEST_RESULTS (also in
// env SNAPSTORE_VM_RESULTS), the host at VmRunResult.resultsDir.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, closeSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface VmDisk {
  /** Also the disk's virtio serial (at most 20 characters, [A-Za-z0-9._-]). */
  name: string;
  sizeMiB: number;
  /** Keep the image at this path between boots: created (sparse) when missing, reused as is when present. */
  path?: string;
  /** Pass discards through to the image (qemu `discard=unmap`): the disk then advertises discard, as an SSD or eMMC does. */
  discard?: boolean;
}

export interface VmRunOptions {
  /** argv run in the guest (looked up in the guest's PATH, which is the host's). */
  command: string[];
  disks?: VmDisk[];
  /** Whole run, boot included. Default 300 s. qemu is killed when it runs out. */
  timeoutSec?: number;
  env?: Record<string, string>;
  /** Copy the guest console to this process's stderr as it comes (also: env SNAPSTORE_VM_ECHO=1). */
  echo?: boolean;
}

export interface VmRunResult {
  exitCode: number;
  /** The serial console (kernel messages, init, the command's stdout and stderr), CRs and escapes removed. */
  output: string;
  kernelRelease: string;
  /** Host side of the writable share; the caller removes it when done. */
  resultsDir: string;
  /** Guest uptime when the command started (boot cost), seconds. */
  bootSec: number;
  /** Guest time the command took, seconds. */
  commandSec: number;
  /** Host wall time of the whole run, seconds. */
  wallSec: number;
}

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const VM_DIR = join(REPO_ROOT, 'test/vm');
export const VM_CACHE = join(REPO_ROOT, '.cache/vm');
/** Where the guest sees the writable results share. */
export const GUEST_RESULTS = '/run/vm-results';

const STAMP = join(VM_CACHE, 'ready');
const QEMU = 'qemu-system-x86_64';

/** Error from the bed itself (no exit code came back); `output` is the console tail. */
export class VmError extends Error {
  constructor(message: string, readonly output: string, readonly resultsDir?: string) {
    super(message);
    this.name = 'VmError';
  }
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

function recipeHash(): string {
  const h = createHash('sha256');
  h.update(readFileSync(join(VM_DIR, 'setup.sh')));
  h.update(readFileSync(join(VM_DIR, 'init.sh')));
  return h.digest('hex');
}

function readStamp(): Record<string, string> | undefined {
  if (!existsSync(STAMP)) return undefined;
  const out: Record<string, string> = {};
  for (const line of readFileSync(STAMP, 'utf8').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** Is the bed ready to boot? Does not install anything (see ensureVm). */
export function vmAvailable(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== 'linux' || process.arch !== 'x64') return { ok: false, reason: `the VM test bed needs linux/x64 (this is ${process.platform}/${process.arch})` };
  if (!which(QEMU)) return { ok: false, reason: `${QEMU} not found: run bash test/vm/setup.sh` };
  const stamp = readStamp();
  if (!stamp) return { ok: false, reason: `no kernel cache in ${VM_CACHE}: run bash test/vm/setup.sh` };
  if (stamp.recipe !== recipeHash()) return { ok: false, reason: 'the kernel cache predates test/vm/setup.sh or init.sh: run bash test/vm/setup.sh' };
  for (const f of ['vmlinuz', 'initramfs.cpio.gz']) {
    if (!existsSync(join(VM_CACHE, f))) return { ok: false, reason: `${join(VM_CACHE, f)} missing: run bash test/vm/setup.sh --force` };
  }
  return { ok: true };
}

/** vmAvailable(), running test/vm/setup.sh first when the cache is missing or outdated. */
export function ensureVm(): { ok: true } | { ok: false; reason: string } {
  const first = vmAvailable();
  if (first.ok || process.platform !== 'linux') return first;
  if (process.env.SNAPSTORE_VM_NO_SETUP) return first;
  const r = spawnSync('bash', [join(VM_DIR, 'setup.sh')], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], timeout: 900_000 });
  if (r.status !== 0) {
    const tail = (r.stderr ?? '').trim().split('\n').slice(-15).join('\n');
    return { ok: false, reason: `${first.reason}; test/vm/setup.sh failed (${r.error?.message ?? `exit ${r.status}`}):\n${tail}` };
  }
  return vmAvailable();
}

/** Guest kernel release the cache holds (from the stamp), or undefined. */
export function cachedKernelRelease(): string | undefined {
  return readStamp()?.kernel;
}

/** Root of the extracted kernel package; the guest sees it at the same path (modprobe -d, insmod). */
export function modulesRoot(): string {
  return join(VM_CACHE, 'root');
}

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DISK_NAME = /^[A-Za-z0-9._-]{1,20}$/;

function cleanConsole(s: string): string {
  // SeaBIOS resets the terminal (ESC c, ESC [2J ...): keep none of that in what we print.
  // eslint-disable-next-line no-control-regex
  return s.replace(/\r/g, '').replace(/\x1b(\[[0-9;?]*[A-Za-z]|[()][A-Z0-9]|[0-9A-Za-z=>])/g, '');
}

function tail(s: string, lines = 60): string {
  return s.trimEnd().split('\n').slice(-lines).join('\n');
}

function guestEnv(extra: Record<string, string> | undefined): Record<string, string> {
  const nodeDir = dirname(process.execPath);
  const path = [nodeDir, '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  const env: Record<string, string> = {
    PATH: [...new Set(path)].join(':'),
    HOME: '/tmp',
    TMPDIR: '/tmp',
    LANG: 'C.UTF-8',
    DM_DISABLE_UDEV: '1',
    SNAPSTORE_VM: '1',
    SNAPSTORE_VM_RESULTS: GUEST_RESULTS,
    SNAPSTORE_VM_MODULES_ROOT: modulesRoot(),
    SNAPSTORE_VM_KERNEL: cachedKernelRelease() ?? '',
  };
  if (process.env.CI) env.CI = process.env.CI;
  return { ...env, ...extra };
}

function runScript(opts: VmRunOptions): string {
  const lines = ['# written by test/vm/vm.ts; run by /init in a chroot of the host root'];
  for (const [k, v] of Object.entries(guestEnv(opts.env))) {
    if (!ENV_NAME.test(k)) throw new Error(`bad environment variable name ${JSON.stringify(k)}`);
    lines.push(`export ${k}=${shQuote(v)}`);
  }
  lines.push(`cd ${shQuote(REPO_ROOT)} || exit 125`);
  lines.push(`exec ${opts.command.map(shQuote).join(' ')}`);
  return lines.join('\n') + '\n';
}

function prepareDisk(disk: VmDisk, tempDir: string): string {
  if (!DISK_NAME.test(disk.name)) throw new Error(`disk name ${JSON.stringify(disk.name)}: use 1 to 20 of [A-Za-z0-9._-]`);
  if (!Number.isInteger(disk.sizeMiB) || disk.sizeMiB <= 0) throw new Error(`disk ${disk.name}: sizeMiB must be a positive integer`);
  const path = disk.path ? resolve(disk.path) : join(tempDir, `${disk.name}.img`);
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    closeSync(openSync(path, 'w'));
    truncateSync(path, disk.sizeMiB * 1024 * 1024);
  } else if (!statSync(path).isFile()) {
    throw new Error(`disk ${disk.name}: ${path} is not a regular file`);
  }
  return path;
}

function readNumber(path: string): number | undefined {
  try {
    const n = Number.parseFloat(readFileSync(path, 'utf8').trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Boots the VM once and runs opts.command in it. Resolves with the command's exit code (a
 * failing command is not an error); rejects with VmError when the bed itself fails (qemu
 * missing or crashing, kernel panic, timeout), with the console tail in the message.
 */
export async function runInVm(opts: VmRunOptions): Promise<VmRunResult> {
  const avail = vmAvailable();
  if (!avail.ok) throw new VmError(`VM test bed unavailable: ${avail.reason}`, '');
  if (opts.command.length === 0) throw new Error('runInVm: empty command');

  const resultsDir = mkdtempSync(join(tmpdir(), 'snapstore-vm-'));
  const diskDir = mkdtempSync(join(tmpdir(), 'snapstore-vm-disks-'));
  const meta = join(resultsDir, '.vm');
  mkdirSync(meta);
  writeFileSync(join(meta, 'run.sh'), runScript(opts));
  // The guest puts tmpfs on /tmp and /run: a checkout under them (a CI clone in /tmp) would
  // vanish, so the repo also comes as its own share, mounted at its own path.
  writeFileSync(join(meta, 'repo-path'), REPO_ROOT);
  if (REPO_ROOT.includes(',')) throw new Error(`qemu cannot share a path with a comma: ${REPO_ROOT}`);

  const args = [
    '-accel', 'tcg,thread=multi', '-smp', '2', '-m', '2048',
    '-nographic', '-no-reboot', '-nic', 'none',
    '-kernel', join(VM_CACHE, 'vmlinuz'),
    '-initrd', join(VM_CACHE, 'initramfs.cpio.gz'),
    '-append', 'console=ttyS0 quiet panic=-1',
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    '-virtfs', `local,path=${resultsDir},mount_tag=results,security_model=none,multidevs=remap`,
    '-virtfs', `local,path=${REPO_ROOT},mount_tag=repo,security_model=none,readonly=on,multidevs=remap`,
  ];
  try {
    for (const [i, disk] of (opts.disks ?? []).entries()) {
      const path = prepareDisk(disk, diskDir);
      if (path.includes(',')) throw new Error(`disk ${disk.name}: qemu cannot take a path with a comma: ${path}`);
      // = -drive file=...,format=raw,if=virtio,cache=unsafe, split in two to give the serial.
      args.push('-drive', `file=${path},format=raw,if=none,id=disk${i},cache=unsafe${disk.discard ? ',discard=unmap' : ''}`);
      args.push('-device', `virtio-blk-pci,drive=disk${i},serial=${disk.name}`);
    }
  } catch (e) {
    rmSync(diskDir, { recursive: true, force: true });
    rmSync(resultsDir, { recursive: true, force: true });
    throw e;
  }

  const echo = opts.echo ?? process.env.SNAPSTORE_VM_ECHO === '1';
  const timeoutSec = opts.timeoutSec ?? 300;
  const started = process.hrtime.bigint();
  const chunks: Buffer[] = [];
  let timedOut = false;

  const status = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((done) => {
    const child = spawn(QEMU, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let pending = ''; // echo whole lines only: an escape sequence may straddle two chunks
    const onData = (b: Buffer) => {
      chunks.push(b);
      if (!echo) return;
      pending += b.toString('utf8');
      const cut = pending.lastIndexOf('\n') + 1;
      if (cut > 0) {
        process.stderr.write(cleanConsole(pending.slice(0, cut)));
        pending = pending.slice(cut);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutSec * 1000);
    child.on('error', (error) => {
      clearTimeout(timer);
      done({ code: null, signal: null, error });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (echo && pending) process.stderr.write(cleanConsole(pending) + '\n');
      done({ code, signal });
    });
  });
  rmSync(diskDir, { recursive: true, force: true });

  const wallSec = Number(process.hrtime.bigint() - started) / 1e9;
  const output = cleanConsole(Buffer.concat(chunks).toString('utf8'));
  writeFileSync(join(meta, 'console.log'), output);
  const fail = (why: string): never => {
    // The console tail is in the message; keep the share only when asked (SNAPSTORE_VM_KEEP=1).
    const keep = Boolean(process.env.SNAPSTORE_VM_KEEP);
    if (!keep) rmSync(resultsDir, { recursive: true, force: true });
    throw new VmError(`${why}; console tail:\n${tail(output)}`, tail(output), keep ? resultsDir : undefined);
  };
  if (status.error) fail(`cannot start ${QEMU}: ${status.error.message}`);
  if (timedOut) fail(`VM run timed out after ${timeoutSec} s (qemu killed)`);
  const exitCode = readNumber(join(meta, 'exit-code'));
  if (exitCode === undefined) {
    fail(`VM ended without the command's exit code (qemu ${status.signal ? `killed by ${status.signal}` : `exit ${status.code}`})`);
  }
  const kernelRelease = existsSync(join(meta, 'kernel-release')) ? readFileSync(join(meta, 'kernel-release'), 'utf8').trim() : '';
  const start = readNumber(join(meta, 'uptime-start')) ?? Number.NaN;
  const end = readNumber(join(meta, 'uptime-end')) ?? Number.NaN;
  return { exitCode: exitCode as number, output, kernelRelease, resultsDir, bootSec: start, commandSec: end - start, wallSec };
}
