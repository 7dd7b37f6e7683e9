// `snapstore install-boot --root DIR`: each kind puts exactly its files, with
// their modes and the package's contents, under DIR and runs nothing; a rerun
// changes nothing; --dry-run writes nothing; every refusal (two kinds, a bad
// root, no kind under --root, the boot system missing, the state directory on
// a filesystem of its own, a masked unit) writes nothing; a write that fails
// is undone, a replaced file put back.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run, type InstallBootCommandOptions } from '../../src/cli/commands/install-boot.js';
import { buildProgram, UsageError } from '../../src/cli/program.js';
import { capture } from '../support/capture.js';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-install-boot-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

const EXPECTED = {
  systemd: { installedAt: 'etc/systemd/system', files: { 'etc/systemd/system/snapstore-activate.service': ['systemd/snapstore-activate.service', 0o644] } },
  'initramfs-tools': {
    installedAt: 'etc/initramfs-tools',
    files: {
      'etc/initramfs-tools/hooks/snapstore': ['boot/initramfs-tools/hooks/snapstore', 0o755],
      'etc/initramfs-tools/scripts/local-bottom/snapstore': ['boot/initramfs-tools/scripts/local-bottom/snapstore', 0o755],
    },
  },
  dracut: {
    installedAt: 'usr/lib/dracut/modules.d',
    files: {
      'usr/lib/dracut/modules.d/90snapstore/module-setup.sh': ['boot/dracut/90snapstore/module-setup.sh', 0o755],
      'usr/lib/dracut/modules.d/90snapstore/snapstore-pre-pivot.sh': ['boot/dracut/90snapstore/snapstore-pre-pivot.sh', 0o755],
    },
  },
} as const;
type Kind = keyof typeof EXPECTED;
const FLAG = { systemd: 'systemd', 'initramfs-tools': 'initramfsTools', dracut: 'dracut' } as const;

/** An image root where `kind`'s boot system is installed, with an fstab that mounts only /. */
function imageRoot(kind: Kind, fstab = 'UUID=0a1b / ext4 errors=remount-ro 0 1\n'): string {
  const root = fs.mkdtempSync(path.join(scratch, `${kind}-`));
  fs.mkdirSync(path.join(root, EXPECTED[kind].installedAt), { recursive: true });
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/fstab'), fstab);
  return root;
}

/** Every file and folder under root with its mode: what a command changed shows here. */
function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of fs.readdirSync(root, { recursive: true }).map(String).sort()) {
    const st = fs.lstatSync(path.join(root, rel));
    out[rel] = `${st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : 'f'}${(st.mode & 0o7777).toString(8)}${st.isFile() ? ` ${fs.readFileSync(path.join(root, rel), 'utf8').length}` : ''}`;
  }
  return out;
}

/** The command's run(), with the options commander makes of `--KIND --root ROOT ...`. */
async function cli(options: InstallBootCommandOptions) {
  const c = capture();
  await run(options, c.ctx);
  return c;
}
const of = (kind: Kind, root: string, more: InstallBootCommandOptions = {}): InstallBootCommandOptions => ({ [FLAG[kind]]: true, root, ...more });

describe.each(Object.keys(EXPECTED) as Kind[])('--%s --root DIR', (kind) => {
  it('puts exactly its files there, with their modes and the package contents, runs nothing and says what to run in the image', async () => {
    const root = imageRoot(kind);
    const before = tree(root);
    const c = await cli(of(kind, root));
    const files = Object.entries(EXPECTED[kind].files);
    const added = Object.fromEntries(Object.entries(tree(root)).filter(([p, v]) => before[p] !== v && !fs.statSync(path.join(root, p)).isDirectory()));
    expect(Object.keys(added).sort()).toEqual(files.map(([t]) => t).sort());
    for (const [target, [source, mode]] of files) {
      expect(fs.statSync(path.join(root, target)).mode & 0o7777, target).toBe(mode);
      expect(fs.readFileSync(path.join(root, target), 'utf8')).toBe(fs.readFileSync(source, 'utf8'));
      expect(c.out).toContain(`installed ${path.join(root, target)} (mode 0${mode.toString(8)})`);
    }
    // Folders it made are 0755 whatever the umask.
    for (const [p, v] of Object.entries(tree(root))) if (!(p in before) && v.startsWith('d')) expect(v, p).toBe('d755');
    expect(c.out.at(-1)).toMatch(new RegExp(`^installed into the image at ${root}; once snapstore is installed there, run: .*${kind === 'systemd' ? `systemctl --root ${root} enable snapstore-activate.service` : kind === 'dracut' ? 'dracut -f --regenerate-all' : 'update-initramfs -u -k all'}$`));
    expect(c.out.filter((l) => l.startsWith('ran'))).toEqual([]);

    // Again: nothing changes, and it says so.
    const again = capture({ json: true });
    await run(of(kind, root), again.ctx);
    expect(again.results[0]).toMatchObject({ kind, root, dryRun: false, commands: [], files: files.map(() => expect.objectContaining({ change: 'unchanged' })) });
  });

  it('--dry-run says what it would install and writes nothing', async () => {
    const root = imageRoot(kind);
    const before = tree(root);
    const c = await cli(of(kind, root, { dryRun: true }));
    expect(tree(root)).toEqual(before);
    expect(c.out.filter((l) => l.startsWith('would install'))).toHaveLength(Object.keys(EXPECTED[kind].files).length);
    expect(c.out.at(-1)).toBe(`dry run: nothing was changed; ${kind} would run snapstore activate at boot`);
  });
});

describe('refusals change nothing', () => {
  async function refused(root: string, options: InstallBootCommandOptions, expected: object) {
    const before = tree(root);
    await expect(cli(options)).rejects.toMatchObject(expected);
    expect(tree(root)).toEqual(before);
  }

  it('two kinds: commander refuses the command line (exit 2)', async () => {
    const root = imageRoot('dracut');
    const before = tree(root);
    const parse = buildProgram(capture().ctx).parseAsync(['install-boot', '--dracut', '--systemd', '--root', root], { from: 'user' });
    await expect(parse).rejects.toBeInstanceOf(UsageError);
    await expect(parse).rejects.toMatchObject({ exitCode: 2, message: "error: option '--systemd' cannot be used with option '--dracut'" });
    expect(tree(root)).toEqual(before);
  });

  it('a root that is missing or not a directory, or no kind under --root: usage errors with the way out', async () => {
    const root = imageRoot('systemd');
    const missing = path.join(root, 'nope');
    await refused(root, of('systemd', missing), { code: 'BAD_VALUE', usage: true, message: `--root ${missing}: ${missing} does not exist`, hint: expect.stringMatching(/the folder the image is built in/) });
    await refused(root, of('systemd', path.join(root, 'etc/fstab')), { code: 'BAD_VALUE', message: expect.stringMatching(/is not a directory$/) });
    await refused(root, { root }, { code: 'BOOT_KIND_UNKNOWN', usage: true, hint: 'name it: --systemd, --initramfs-tools, --dracut' });
  });

  it('the boot system not installed in the image', async () => {
    const root = imageRoot('systemd');
    await refused(root, of('initramfs-tools', root), {
      code: 'BOOT_SYSTEM_MISSING',
      message: `initramfs-tools is not installed under ${root}: there is no ${root}/etc/initramfs-tools`,
      hint: 'install initramfs-tools first, or choose another kind',
    });
  });

  it('the state directory on a filesystem of its own (fstab mounts /var)', async () => {
    const root = imageRoot('systemd', '# comment\nUUID=0a1b / ext4 defaults 0 1\nLABEL=var\t/var  ext4 defaults 0 2\n');
    await refused(root, of('systemd', root), {
      code: 'BOOT_STATE_DIR',
      message: `the state directory /var/lib/snapstore is on /var, a filesystem of its own (LABEL=var in ${root}/etc/fstab): at boot it is mounted only after snapshots must be activated`,
    });
    // /var/lib/snapstoreX and /usr are not above it.
    const fine = imageRoot('systemd', 'UUID=1 / ext4 defaults 0 1\nUUID=2 /usr ext4 defaults 0 2\nUUID=3 /var/lib/snapstore2 ext4 defaults 0 2\n');
    await cli(of('systemd', fine));
  });

  it('a masked unit (a symlink to /dev/null) is left alone, with the way out', async () => {
    const root = imageRoot('systemd');
    fs.symlinkSync('/dev/null', path.join(root, 'etc/systemd/system/snapstore-activate.service'));
    await refused(root, of('systemd', root), { code: 'NOT_A_FILE', hint: 'it is masked: `systemctl unmask snapstore-activate.service` first' });
  });

  it('a target whose folder is a file', async () => {
    const root = imageRoot('initramfs-tools');
    fs.writeFileSync(path.join(root, 'etc/initramfs-tools/scripts'), '');
    await refused(root, of('initramfs-tools', root), { code: 'ENOTDIR', message: expect.stringMatching(/lstat .*\/etc\/initramfs-tools\/scripts\/local-bottom\/snapstore/) });
  });
});

it('a write that fails is undone: new files and folders removed, a replaced file put back', async () => {
  const root = imageRoot('initramfs-tools');
  const hook = path.join(root, 'etc/initramfs-tools/hooks/snapstore');
  fs.mkdirSync(path.dirname(hook));
  fs.writeFileSync(hook, 'an older hook\n', { mode: 0o700 });
  // scripts/ is a symlink to nowhere: the checks see no boot script there, but its folder cannot be made.
  fs.symlinkSync('nowhere', path.join(root, 'etc/initramfs-tools/scripts'));
  const before = tree(root);
  await expect(cli(of('initramfs-tools', root))).rejects.toMatchObject({ code: 'ENOENT', message: expect.stringMatching(/nothing was left behind \(undone: .*hooks\/snapstore \(put back as it was\)\)/) });
  expect(tree(root)).toEqual(before);
  expect(fs.readFileSync(hook, 'utf8')).toBe('an older hook\n');
});
