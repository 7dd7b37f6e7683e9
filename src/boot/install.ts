/**
 * `snapstore install-boot`: the boot integration of one kind (kinds.ts)
 * installed from the package's own files, then taken in by the boot system's
 * program. Under another root (an image being built) only the files are put
 * there, and the result says what to run in the image. Everything is checked
 * before the first write, so a refusal changes nothing; a write that fails is
 * undone.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SnapstoreError, withNote } from '../errors.js';
import { fromNodeError } from '../linux/errors.js';
import { runProgram } from '../linux/run.js';
import { writeFileAtomic } from '../state/files.js';
import { DEFAULT_STATE_DIR } from '../state/state-dir.js';
import { describeUnwind, UndoStack } from '../util/undo.js';
import { BOOT_KINDS, KINDS, type BootKind, type KindSpec } from './kinds.js';

/** Where the boot looks for programs: systemd's default PATH for services, and what the initramfs hooks add to mkinitramfs's. */
export const BOOT_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export interface InstallBootOptions {
  /** default: told from the running system (systemd running: systemd); must be given with `root` */
  readonly kind?: BootKind;
  /** install under this folder instead of the running system (default /) */
  readonly root?: string;
  readonly dryRun?: boolean;
  /** where the package's files are read (default: the package this module is in) */
  readonly packageDir?: string;
  /** narration: each command before it runs */
  readonly log?: (line: string) => void;
}

export interface InstalledFile {
  readonly source: string;
  readonly target: string;
  /** octal, e.g. "0644" */
  readonly mode: string;
  /** what the install does (or, with dryRun, would do) to it */
  readonly change: 'new' | 'replaced' | 'unchanged';
}

export interface InstallBootResult {
  readonly kind: BootKind;
  readonly root: string;
  readonly dryRun: boolean;
  readonly files: InstalledFile[];
  /** the commands run on the running system (with dryRun: those it would run) */
  readonly commands: string[];
  /** under another root: what to run in the image */
  readonly next: string[];
}

export async function installBoot(options: InstallBootOptions): Promise<InstallBootResult> {
  const root = checkRoot(options.root ?? '/');
  const live = root === '/';
  const kind = options.kind ?? detectKind(live);
  const spec = KINDS[kind];
  const tool = requireBootSystem(kind, spec, root, live);
  checkStateDirOnRoot(root);
  if (live) await requireRunnableAtBoot(kind);
  const pkg = options.packageDir ?? packageDir();
  const files = spec.files.map((f) => planFile(pkg, root, f.source, f.target, f.mode));
  const commands = tool ? spec.commands(fs.existsSync('/run/systemd/system')) : [];
  const result: InstallBootResult = {
    kind,
    root,
    dryRun: options.dryRun ?? false,
    files: files.map((f) => ({ source: f.source, target: f.target, mode: `0${f.modeBits.toString(8)}`, change: f.change })),
    commands: commands.map((c) => c.join(' ')),
    next: live ? [] : [spec.inImage(root)],
  };
  if (options.dryRun) return result;
  await writeFiles(files);
  for (const [, ...args] of commands) await runStep(tool!, args, files, options.log);
  return result;
}

/** The root given: an existing directory, as an absolute path. */
function checkRoot(given: string): string {
  const root = path.resolve(given);
  const st = fs.statSync(root, { throwIfNoEntry: false });
  if (!st?.isDirectory()) {
    throw new SnapstoreError('BAD_VALUE', `--root ${given}: ${root} ${st ? 'is not a directory' : 'does not exist'}`, { hint: 'give the folder the image is built in (its /etc, /usr are below it)', usage: true });
  }
  return root;
}

/** The kind for the running system: systemd when it is the init, else the initramfs builder that is installed. */
function detectKind(live: boolean): BootKind {
  const hint = `name it: ${BOOT_KINDS.map((k) => `--${k}`).join(', ')}`;
  if (!live) throw new SnapstoreError('BOOT_KIND_UNKNOWN', 'with --root the kind of boot integration must be named: the running system says nothing about the image', { hint, usage: true });
  if (fs.existsSync('/run/systemd/system')) return 'systemd';
  const found = (['initramfs-tools', 'dracut'] as const).find((k) => onBootPath(KINDS[k].tool));
  if (found) return found;
  throw new SnapstoreError('BOOT_KIND_UNKNOWN', 'no boot system snapstore can install into was found: systemd is not running, and neither update-initramfs nor dracut is installed', { hint });
}

/** The boot system is installed under the root (and its program on the running system); returns that program's path. */
function requireBootSystem(kind: BootKind, spec: KindSpec, root: string, live: boolean): string | undefined {
  const where = path.join(root, spec.installedAt);
  if (!fs.existsSync(where)) {
    throw new SnapstoreError('BOOT_SYSTEM_MISSING', `${kind} is not installed${live ? '' : ` under ${root}`}: there is no ${where}`, { hint: `install ${kind} first, or choose another kind` });
  }
  if (!live) return undefined;
  const tool = onBootPath(spec.tool);
  if (!tool) throw new SnapstoreError('BOOT_SYSTEM_MISSING', `${kind} is not installed: ${spec.tool} is not in ${BOOT_PATH.join(':')}`, { hint: `install ${kind} first, or choose another kind` });
  return tool;
}

/**
 * The state directory must be on the root filesystem: the boot reads it before
 * any filesystem in fstab is mounted (the unit runs before local-fs-pre.target,
 * the initramfs scripts with only the root mounted). Refuses (BOOT_STATE_DIR)
 * an fstab under `root` that mounts a filesystem of its own at or above it.
 */
export function checkStateDirOnRoot(root: string): void {
  const fstab = path.join(root, 'etc/fstab');
  if (!fs.existsSync(fstab)) return;
  for (const line of fs.readFileSync(fstab, 'utf8').split('\n')) {
    const [source, field] = line.trim().split(/\s+/);
    if (!source || source.startsWith('#') || !field) continue;
    // fstab escapes blanks in paths as octal (\040).
    const mountPoint = field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mountPoint !== '/' && (DEFAULT_STATE_DIR === mountPoint || DEFAULT_STATE_DIR.startsWith(`${mountPoint.replace(/\/$/, '')}/`))) {
      throw new SnapstoreError('BOOT_STATE_DIR', `the state directory ${DEFAULT_STATE_DIR} is on ${mountPoint}, a filesystem of its own (${source} in ${fstab}): at boot it is mounted only after snapshots must be activated`, {
        hint: `the boot integration reads ${DEFAULT_STATE_DIR} from the root filesystem: keep it there (not under a separate ${mountPoint})`,
      });
    }
  }
}

/** What the boot runs must be there: snapstore and node where the boot looks for programs; for an initramfs, the install must hold all it needs. */
async function requireRunnableAtBoot(kind: BootKind): Promise<void> {
  const hint = 'install snapstore where the boot finds it: `npm install -g` of its package, or `npm link` in a clone';
  const node = onBootPath('node');
  const snapstore = onBootPath('snapstore');
  if (!node || !snapstore) {
    throw new SnapstoreError('BOOT_NOT_ON_PATH', `${!snapstore ? 'snapstore' : 'node'} is not in ${BOOT_PATH.join(':')}, where the boot looks for it`, { hint: !snapstore ? hint : 'install Node.js 20 or later from a package (it installs /usr/bin/node)' });
  }
  if (kind === 'systemd') return;
  // The hook lists the same files (boot/image-files.cjs): a hook that fails would fail every initramfs update.
  const installed = path.dirname(path.dirname(fs.realpathSync(snapstore)));
  const r = await runProgram(node, [path.join(installed, 'boot/image-files.cjs'), installed]);
  if (r.exitCode !== 0) {
    throw new SnapstoreError('BOOT_IMAGE_UNREADY', `the snapstore in ${installed} (${snapstore}) cannot go into an initramfs: ${r.stderr.trim() || `boot/image-files.cjs exited with ${r.exitCode}`}`, { hint: 'fix that install (the way out above), then run install-boot again' });
  }
}

function onBootPath(name: string): string | undefined {
  return BOOT_PATH.map((d) => path.join(d, name)).find((p) => {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  });
}

/** The folder of the package this module belongs to (from src/, dist/ or the CLI bundle's chunks). */
function packageDir(): string {
  for (let d = path.dirname(fileURLToPath(import.meta.url)); d !== path.dirname(d); d = path.dirname(d)) {
    const manifest = path.join(d, 'package.json');
    if (fs.existsSync(manifest) && (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'snapstore') return d;
  }
  throw new SnapstoreError('BUG', `no snapstore package.json above ${fileURLToPath(import.meta.url)}`);
}

interface PlannedFile {
  readonly source: string;
  readonly target: string;
  readonly modeBits: number;
  readonly data: string;
  readonly change: InstalledFile['change'];
  /** what a replaced file held, to put back if the install fails */
  readonly previous?: { readonly data: string; readonly mode: number };
}

function planFile(pkg: string, root: string, source: string, target: string, mode: number): PlannedFile {
  const from = path.join(pkg, source);
  let data: string;
  try {
    data = fs.readFileSync(from, 'utf8');
  } catch (err) {
    throw withNote(fromNodeError(err, 'read', from), `the package at ${pkg} lacks ${source}: reinstall snapstore`);
  }
  const to = path.join(root, target);
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(to, { throwIfNoEntry: false });
  } catch (err) {
    throw fromNodeError(err, 'lstat', to);
  }
  if (st && !st.isFile()) {
    throw new SnapstoreError('NOT_A_FILE', `${to} is there already and is not a regular file (${st.isSymbolicLink() ? `a symlink to ${fs.readlinkSync(to)}` : 'a directory or a device'})`, {
      hint: st.isSymbolicLink() && fs.readlinkSync(to) === '/dev/null' ? `it is masked: \`systemctl unmask ${path.basename(to)}\` first` : `move it away, then run install-boot again`,
    });
  }
  const planned = { source: from, target: to, modeBits: mode, data };
  if (!st) return { ...planned, change: 'new' };
  const previous = { data: fs.readFileSync(to, 'utf8'), mode: st.mode & 0o7777 };
  return previous.data === data && previous.mode === mode ? { ...planned, change: 'unchanged' } : { ...planned, change: 'replaced', previous };
}

/** Writes the files (their folders made 0755 where missing); on a failure puts back what was there. */
async function writeFiles(files: readonly PlannedFile[]): Promise<void> {
  const undo = new UndoStack();
  try {
    for (const f of files) {
      if (f.change === 'unchanged') continue;
      const dir = path.dirname(f.target);
      let made: string | undefined;
      try {
        made = fs.mkdirSync(dir, { recursive: true });
      } catch (err) {
        throw fromNodeError(err, 'mkdir', dir);
      }
      if (made) {
        const top = made;
        undo.push(`the folder ${top}`, () => fs.rmSync(top, { recursive: true }));
        // 0755 whatever the umask, as the boot systems' own folders are.
        for (let d = dir; d.length >= top.length; d = path.dirname(d)) fs.chmodSync(d, 0o755);
      }
      writeFileAtomic(f.target, f.data, f.modeBits, fromNodeError);
      const before = f.previous;
      undo.push(before ? `${f.target} (put back as it was)` : f.target, () => (before ? writeFileAtomic(f.target, before.data, before.mode, fromNodeError) : fs.rmSync(f.target)));
    }
    undo.commit();
  } catch (err) {
    throw withNote(err, describeUnwind(await undo.unwind()));
  }
}

/** Runs the boot system's program (its path) to take the files in; a failure leaves the files in place and says so. */
async function runStep(tool: string, args: readonly string[], files: readonly PlannedFile[], log?: (line: string) => void): Promise<void> {
  const text = `${path.basename(tool)} ${args.join(' ')}`;
  log?.(`running ${text}`);
  const r = await runProgram(tool, args);
  if (r.exitCode !== 0) {
    const said = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-5).join('\n');
    throw new SnapstoreError('BOOT_COMMAND_FAILED', `\`${text}\` failed (exit ${r.exitCode})${said ? `: ${said}` : ''}; the files are in place (${files.map((f) => f.target).join(', ')})`, {
      hint: `fix what it says, then run \`${text}\` again (or install-boot again)`,
    });
  }
}
