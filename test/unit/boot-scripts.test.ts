// The boot scripts in boot/: every shell script parses and passes shellcheck;
// boot/image-files.cjs lists what an initramfs needs of an install and none of a
// clone's extras; the initramfs-tools hook, run with initramfs-tools' own
// hook-functions into a scratch DESTDIR, makes an image whose node runs the CLI
// and loads its FFI (in a chroot: no mount, no device); the dracut module asks
// dracut (its functions stubbed) for the same; the boot helper leaves a root
// without a state directory alone.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { describeShellScripts, needs } from '../support/shell-scripts.js';

const SCRIPTS = [
  'boot/snapstore-boot-activate',
  'boot/initramfs-tools/hooks/snapstore',
  'boot/initramfs-tools/scripts/local-bottom/snapstore',
  'boot/dracut/90snapstore/module-setup.sh',
  'boot/dracut/90snapstore/snapstore-pre-pivot.sh',
];
const HOOK_FUNCTIONS = ['/usr/share/initramfs-tools/hook-functions', '.cache/initramfs-tools/usr/share/initramfs-tools/hook-functions'].find((f) => fs.existsSync(f));
const BUILT = fs.existsSync('dist/cli-bundle/main.js');

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-boot-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A bin folder where `snapstore` is this clone's, as `npm link` makes it, and node the one running. */
function linkedBin(): string {
  const bin = fs.mkdtempSync(path.join(scratch, 'bin-'));
  fs.symlinkSync(path.resolve('bin/snapstore'), path.join(bin, 'snapstore'));
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  return bin;
}

describeShellScripts('shell scripts', SCRIPTS);

describe('boot/image-files.cjs', () => {
  /** A package with a built bundle, a dependency with a dependency of its own, optional ones (one absent) and a dev one. */
  function fakePackage(): string {
    const pkg = fs.mkdtempSync(path.join(scratch, 'pkg-'));
    const write = (rel: string, text = '') => {
      fs.mkdirSync(path.dirname(path.join(pkg, rel)), { recursive: true });
      fs.writeFileSync(path.join(pkg, rel), text);
    };
    const manifest = (name: string, deps: object = {}) => JSON.stringify({ name, ...deps });
    write('package.json', manifest('snapstore', { dependencies: { a: '1' }, optionalDependencies: { '@x/native': '1', absent: '1' }, devDependencies: { dev: '1' } }));
    write('bin/snapstore');
    write('dist/cli-bundle/main.js');
    write('dist/cli-bundle/main.js.map');
    write('dist/cli-bundle/chunks/c.js');
    write('dist/index.js');
    write('src/index.ts');
    write('node_modules/a/package.json', manifest('a', { dependencies: { b: '1' } }));
    write('node_modules/a/node_modules/b/package.json', manifest('b'));
    write('node_modules/@x/native/package.json', manifest('@x/native'));
    write('node_modules/@x/native/x.node');
    write('node_modules/dev/package.json', manifest('dev'));
    return pkg;
  }

  it('lists the bundle, bin, the boot helper and the production dependencies, and nothing else', async () => {
    const pkg = fakePackage();
    const r = await execa('node', ['boot/image-files.cjs', pkg]);
    expect(r.stdout.split('\n')).toEqual([
      'bin/snapstore',
      'boot/snapstore-boot-activate',
      'dist/cli-bundle/chunks/c.js',
      'dist/cli-bundle/main.js',
      'node_modules/@x/native/package.json',
      'node_modules/@x/native/x.node',
      'node_modules/a/node_modules/b/package.json',
      'node_modules/a/package.json',
      'package.json',
    ]);
  });

  it('refuses a package that is not built, or misses a dependency, saying the way out', async () => {
    const unbuilt = fakePackage();
    fs.rmSync(path.join(unbuilt, 'dist'), { recursive: true });
    const r = await execa('node', ['boot/image-files.cjs', unbuilt], { reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/is not built \(dist\/cli-bundle\/main\.js is missing\)\n {2}way out: run `npm run build`/);
    const broken = fakePackage();
    fs.rmSync(path.join(broken, 'node_modules/a/node_modules/b'), { recursive: true });
    const m = await execa('node', ['boot/image-files.cjs', broken], { reject: false });
    expect(m.exitCode).toBe(1);
    expect(m.stderr).toMatch(/b, a dependency of a, is not installed under .*\n {2}way out: run `npm install`/);
  });
});

needs(
  !HOOK_FUNCTIONS ? "initramfs-tools' hook-functions are not there" : !BUILT ? 'the CLI is not built (npm run build)' : undefined,
  'the initramfs-tools hook puts node, the CLI with its native FFI, blkid and dmsetup into the image, and its node runs them there',
  async () => {
    const dest = fs.mkdtempSync(path.join(scratch, 'initramfs-'));
    // The hook as installed, but sourcing the hook-functions found here.
    const hook = path.join(scratch, 'hook');
    fs.writeFileSync(hook, fs.readFileSync('boot/initramfs-tools/hooks/snapstore', 'utf8').replace('/usr/share/initramfs-tools/hook-functions', path.resolve(HOOK_FUNCTIONS!)));
    const env = { PATH: `${linkedBin()}:/usr/bin:/sbin:/bin`, DESTDIR: dest, verbose: 'n', version: os.release(), CONFDIR: scratch };
    const r = await execa('sh', [hook], { env, extendEnv: false, reject: false });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);

    const lib = path.join(dest, 'usr/lib/snapstore');
    for (const f of ['node', 'bin/snapstore', 'package.json', 'dist/cli-bundle/main.js', 'boot/snapstore-boot-activate']) expect(fs.existsSync(path.join(lib, f)), f).toBe(true);
    expect(fs.statSync(path.join(lib, 'boot/snapstore-boot-activate')).mode & 0o111).toBe(0o111);
    expect(fs.readdirSync(path.join(lib, 'node_modules'))).toEqual(expect.arrayContaining(['koffi', '@koromix', 'commander', 'execa', 'cli-progress']));
    for (const devOnly of ['typescript', 'vitest', 'esbuild']) expect(fs.existsSync(path.join(lib, 'node_modules', devOnly)), devOnly).toBe(false);
    expect(fs.existsSync(path.join(lib, 'src'))).toBe(false);
    for (const tool of ['blkid', 'dmsetup']) expect(fs.existsSync(path.join(dest, 'usr/sbin', tool)), tool).toBe(true);

    // The image's node runs the image's CLI and loads koffi's native module, with nothing
    // from this machine but the kernel: a chroot (the real image has these links too).
    for (const d of ['bin', 'sbin', 'lib', 'lib64']) if (!fs.existsSync(path.join(dest, d))) fs.symlinkSync(`usr/${d}`, path.join(dest, d));
    const inImage = (...args: string[]) => execa('chroot', [dest, '/usr/lib/snapstore/node', ...args], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, extendEnv: false });
    expect((await inImage('/usr/lib/snapstore/bin/snapstore', '--version')).stdout).toBe(JSON.parse(fs.readFileSync('package.json', 'utf8')).version);
    // A root that never made a snapshot: no state directory, nothing to activate.
    fs.mkdirSync(path.join(dest, 'var/lib'), { recursive: true });
    expect(JSON.parse((await inImage('/usr/lib/snapstore/bin/snapstore', 'activate', '--state-dir', '/var/lib/snapstore', '--json')).stdout)).toMatchObject({ schemaVersion: 1, snapshots: [] });
    expect((await inImage('-e', "process.stdout.write(typeof require('/usr/lib/snapstore/node_modules/koffi').load)")).stdout).toBe('function');
  },
);

needs(!BUILT ? 'the CLI is not built (npm run build)' : undefined, 'the dracut module installs node, the CLI, blkid and modprobe, dm-snapshot and the pre-pivot hook (dracut stubbed)', async () => {
  // Each dracut function the module calls records its arguments.
  const stubs = ['inst_binary', 'inst_simple', 'inst_multiple', 'inst_hook', 'instmods', 'dfatal'].map((f) => `${f}() { echo "${f} $*"; }`).join('\n');
  const moddir = path.resolve('boot/dracut/90snapstore');
  const script = `${stubs}\nmoddir=${moddir}\n. ${moddir}/module-setup.sh\ncheck && echo "depends $(depends)" && installkernel && install`;
  const r = await execa('bash', ['-c', script], { env: { PATH: `${linkedBin()}:/usr/bin:/bin` }, extendEnv: false, reject: false });
  expect(r.exitCode).toBe(0);
  const calls = r.stdout.split('\n');
  const pkg = path.resolve('.');
  expect(calls).toEqual(
    expect.arrayContaining([
      'depends dm',
      'instmods dm_mod dm_snapshot',
      `inst_binary ${fs.realpathSync(process.execPath)} /usr/lib/snapstore/node`,
      `inst_simple ${pkg}/bin/snapstore /usr/lib/snapstore/bin/snapstore`,
      `inst_simple ${pkg}/boot/snapstore-boot-activate /usr/lib/snapstore/boot/snapstore-boot-activate`,
      'inst_multiple blkid modprobe',
      `inst_hook pre-pivot 50 ${moddir}/snapstore-pre-pivot.sh`,
    ]),
  );
  expect(calls.filter((c) => c.startsWith('dfatal'))).toEqual([]);

  // An install that cannot go into an image (not built) fails the build, saying why.
  const unbuilt = fs.mkdtempSync(path.join(scratch, 'unbuilt-'));
  for (const f of ['package.json', 'bin/snapstore', 'boot/image-files.cjs']) fs.cpSync(f, path.join(unbuilt, f));
  const bin = linkedBin();
  fs.rmSync(path.join(bin, 'snapstore'));
  fs.symlinkSync(path.join(unbuilt, 'bin/snapstore'), path.join(bin, 'snapstore'));
  const failed = await execa('bash', ['-c', script], { env: { PATH: `${bin}:/usr/bin:/bin` }, extendEnv: false, reject: false });
  expect(failed.exitCode).toBe(1);
  expect(failed.stdout).toMatch(new RegExp(`^dfatal snapstore: cannot list the files of ${unbuilt} \\(above\\); way out: fix what it says`, 'm'));
  expect(failed.stderr).toMatch(/is not built/);
});

it('the boot helper leaves a root without a state directory alone', async () => {
  const root = fs.mkdtempSync(path.join(scratch, 'root-'));
  const r = await execa('sh', ['boot/snapstore-boot-activate', root]);
  expect([r.stdout, r.stderr]).toEqual(['', '']);
  expect(fs.readdirSync(root)).toEqual([]);
});
