/**
 * The command line: argv to options, one library call per command. Each
 * command's module is imported only when that command runs, so every call
 * pays only for what it uses.
 */
import { Command, CommanderError, Option } from 'commander';
import { SnapstoreError } from '../errors.js';
import { DEFAULT_STATE_DIR } from '../state/state-dir.js';
import type { CommandContext } from './context.js';
import { EXIT, EXIT_MEANING, type ExitClass } from './exit-codes.js';

/** Commander stopped: help or version shown (exit 0), or a command line it could not take (exit 2). */
export class UsageError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}


function common(cmd: Command): Command {
  return cmd
    .addOption(new Option('--state-dir <dir>', 'where manifests live: an absolute path, owned by root and not writable by group or others').default(DEFAULT_STATE_DIR))
    .option('--json', 'print the result as JSON on stdout');
}

/** Help text after the options: examples, one command a line. */
function examples(cmd: Command, ...lines: string[]): Command {
  return cmd.addHelpText('after', `\n${lines.length > 1 ? 'Examples' : 'Example'}:\n${lines.map((l) => `  ${l}`).join('\n')}`);
}

const EXIT_CODES = `
Exit codes:
${(Object.keys(EXIT) as ExitClass[]).map((c) => `  ${String(EXIT[c]).padEnd(4)} ${EXIT_MEANING[c]}`).join('\n')}
  130  stopped by SIGINT (143: SIGTERM) after undoing its work, or for a merge
       at a safe point; the message says what it left

With --json (before or after the command) the result is JSON on stdout, and so
is an error: {"schemaVersion": 1, "error": {"code", "message", "hint"}}
(docs/json-schema/). --quiet prints only the result and errors.`;

const CREATE_RULES = `
Rules (anything else is refused with the reason, and nothing is made):
  - the filesystem of --store must be ext4 or xfs (btrfs, tmpfs, overlay,
    network and FUSE filesystems are refused: their FIEMAP addresses are not
    device addresses)
  - its directory must be a real directory owned by root and not writable by
    group or others (mkdir -m 700 /data/.snapstore)
  - the --store path must not exist: the file is created (mode 0600, never
    through a symlink) and pinned immutable
  - the size is a whole number of chunks (a share is rounded down to them),
    at least 3 chunks`;

/** The forms every size option that may hold a share takes: size-spec.ts. */
const SIZES = `
Sizes:
  512, 64K, 1.5G, 2MiB  binary units (5MB is refused as ambiguous)
  10%                   of the size of the filesystem holding the store (for a
                        store to be made: the folder it is made in)
  200%USED              of what that filesystem uses now (may pass 100%)
  1G-20%                a range: its upper bound, refused where the lower bound
                        is above it; either side may be any form above
  A share is rounded down to whole chunks.`;

/** The command `words` names (["store", "create"]), or a usage error. */
function findCommand(program: Command, words: string[]): Command {
  let cmd = program;
  for (const [i, w] of words.entries()) {
    const next = cmd.commands.find((c) => c.name() === w || c.aliases().includes(w));
    if (!next) {
      const known = cmd.commands.map((c) => c.name()).filter((n) => n !== 'help');
      throw new SnapstoreError('USAGE', `there is no command "snapstore ${words.slice(0, i + 1).join(' ')}"`, {
        hint: `the commands${i ? ` of "snapstore ${words.slice(0, i).join(' ')}"` : ''} are: ${known.join(', ')}`,
        usage: true,
      });
    }
    cmd = next;
  }
  return cmd;
}

export function buildProgram(ctx: CommandContext): Command {
  /**
   * A command's action: its module is imported only when it runs; `options`
   * turns commander's options and arguments into the module's options.
   */
  const command =
    (module: string, options: (opts: Record<string, unknown>, arg?: string) => object) =>
    async (...args: unknown[]): Promise<void> => {
      // commander passes the positional arguments, then the options, then the command.
      const opts = args[args.length - 2] as Record<string, unknown>;
      // @vite-ignore: vitest resolves the path as it is (.js to .ts) when a test runs the whole CLI; esbuild bundles the glob.
      const { run } = (await import(/* @vite-ignore */ `./commands/${module}.js`)) as { run: (o: object, c: CommandContext) => Promise<void> };
      await run(options(opts, args.length > 2 ? (args[0] as string | undefined) : undefined), ctx);
    };

  const program = new Command('snapstore')
    .description('A way back for OTA updaters: a preallocated file as a dm snapshot store')
    // Each command's help opens with its purpose in one line (the summary the command list shows), then what it does in full.
    .configureHelp({ commandDescription: (cmd) => [...new Set([cmd.summary(), cmd.description()].filter((t) => t))].join('\n\n') })
    .exitOverride((err: CommanderError) => {
      throw new UsageError(err.exitCode === 0 ? 0 : 2, err.message);
    })
    // With --json, a usage error is reported as JSON by main(), not as text here.
    .configureOutput({ writeErr: (text) => (ctx.json ? undefined : ctx.error(text.trimEnd())) })
    .showHelpAfterError('(run with --help for usage)')
    // commander's own help command goes one level only: `help store create` is ours, below.
    .helpCommand(false);
  program.option('-V, --version', 'print the version');
  // Also taken before the command (`snapstore --json store list`); main() reads it from argv.
  program.option('--json', 'print the result (or the error) as JSON on stdout');
  // Taken before or after the command; main() reads it from argv.
  program.option('-q, --quiet', 'print only the result and errors: no narration, warnings or progress');
  examples(
    program,
    'snapstore store create rollback --store /data/.snapstore/rollback.store --size 2G',
    'snapstore store list --json',
    'snapstore store attach rollback',
    'snapstore inspect --store rollback',
    'snapstore merge --offline --origin /dev/vg/root --store rollback --verify',
    'snapstore help store create',
  ).addHelpText('after', EXIT_CODES);

  const store = examples(
    program.command('store').summary('store files: create, list, verify, attach, detach, delete'),
    'snapstore store list',
    'snapstore help store create',
  );

  common(
    examples(
      store
        .command('create <name>').summary('make a store file: preallocate it, prove its map, record it')
        .requiredOption('--store <file>', 'the store file to create (required; must not exist)')
        .requiredOption('--size <size>', 'size (required): e.g. 512M, 1.5G, 10% of the filesystem, 1G-20% (see Sizes)')
        .option('--chunk-size <size>', 'snapshot chunk size (a power of two; a plain size)', '4K')
        .option('--zero', 'write zeros over the whole file first (slow; shows progress on a terminal)')
        .option('--full-proof', 'prove every segment of the map, not a sample spread over the device (slower on a fragmented filesystem)')
        .addHelpText('after', CREATE_RULES)
        .addHelpText('after', SIZES),
      'snapstore store create rollback --store /data/.snapstore/rollback.store --size 2G',
    ),
  ).action(command('store-create', (opts, name) => ({ name, ...opts })));

  common(examples(store.command('list').summary('list the stores this state directory knows').description('the stores this state directory knows, the state of each and what uses it'), 'snapstore store list --json')).action(
    command('store-list', (opts) => opts),
  );

  common(examples(store.command('verify <name>').summary("check that a store's map still holds").description('re-map a store and compare it with its manifest'), 'snapstore store verify rollback')).action(
    command('store-verify', (opts, name) => ({ name, ...opts })),
  );

  common(
    examples(store.command('delete <name>').summary('delete a store file and its manifest').description('clear the immutable flag, delete the store file and its manifest'), 'snapstore store delete rollback'),
  ).action(command('store-delete', (opts, name) => ({ name, ...opts })));

  common(
    examples(
      store
        .command('attach <name>').summary('map a store as the block device /dev/mapper/snapstore-NAME-cow')
        .description('map a store as /dev/mapper/snapstore-NAME-cow, after checking its map still holds')
        .option('--no-fallback', 'fail (EBUSY explained) rather than use a loop device when the filesystem is directly on a partition'),
      'snapstore store attach rollback',
    ),
  ).action(command('store-attach', (opts, name) => ({ name, ...opts })));

  common(
    examples(store.command('detach <name>').summary("remove a store's block device and pin its file again").description("remove the store's dm device (and the loop device attach made), and pin the file again"), 'snapstore store detach rollback'),
  ).action(command('store-detach', (opts, name) => ({ name, ...opts })));

  examples(
    program
      .command('map <file>').summary("print a file's extents as a dm linear table")
      .description("print the file's extents as a dm `linear` table (or --json); changes nothing")
      .option('--chunk-size <size>', 'align extents to this chunk size on the device', '4K')
      .option('--json', 'print the extents as JSON'),
    'snapstore map /data/.snapstore/rollback.store',
  ).action(command('map', (opts, file) => ({ file, ...opts })));

  common(
    examples(
      program
        .command('inspect [device-or-image]').summary('report on a dm-snapshot persistent store, of any maker')
        .description('report on a dm-snapshot persistent store: a device or image (any maker), or --store NAME (ours)')
        .option('--store <name>', 'one of our stores, read raw through its map')
        .option('--exceptions', 'also list every exception (origin chunk -> store chunk)'),
      'snapstore inspect --store rollback --exceptions',
      'snapstore inspect /dev/mapper/snapstore-rollback-cow',
    ),
  ).action(command('inspect', (opts, cow) => ({ cow, ...opts })));

  common(
    program
      .command('merge').summary('merge a snapshot store into its origin without the kernel')
      .description('merge a snapshot store into its origin without the kernel (restartable)')
      .option('--offline', 'merge in userspace (required: the kernel merge comes with the snapshot commands)')
      .requiredOption('--origin <dev>', 'the origin device or image to write (required; nothing may have it open)')
      .option('--cow <dev>', 'the store: an image or block device (any dm-snapshot persistent store)')
      .option('--store <name>', 'the store: one of ours, read through its map')
      .option('--force', 'merge a store marked invalid (the result may be corrupt)')
      .option('--verify', 're-read what was written and compare')
      .option('--dry-run', 'say what would be written, write nothing')
      .addHelpText('after', '\nExamples:\n  snapstore merge --offline --origin /dev/vg/root --store rollback --verify\n  snapstore merge --offline --origin root.img --cow cow.img --dry-run'),
  ).action(command('merge', (opts) => opts));

  common(
    program
      .command('export <out>').summary("write a snapshot's view to a new image file")
      .description("write the snapshot's view (origin with the store's exceptions applied) to a new image; changes neither input")
      .requiredOption('--origin <dev>', 'the origin device or image (required)')
      .option('--cow <dev>', 'the store: an image or block device')
      .option('--store <name>', 'the store: one of ours, read through its map')
      .option('--force', 'export from a store marked invalid')
      .addHelpText('after', '\nExample:\n  snapstore export /srv/check/root-view.img --origin /dev/vg/root --store rollback'),
  ).action(command('export', (opts, out) => ({ out, ...opts })));

  // The snapshot lifecycle: what an update agent calls.
  const waitLock = (cmd: Command): Command => cmd.option('--wait-lock [seconds]', 'wait for another snapstore command to finish (default 300 s) instead of refusing');
  common(
    waitLock(
      examples(
        program
          .command('create <name>').summary('before an update: snapshot a device so the update can be undone')
          .description('before an update: a checkpoint of a mounted filesystem (its old contents go to a new store file), or a snapshot to write the update into (--mode update)')
          .requiredOption('--origin <dev>', 'checkpoint: the dm device the filesystem is mounted from, e.g. /dev/mapper/data; update: a device nothing uses, e.g. /dev/sda3 (required)')
          .requiredOption('--store <file>', 'the store file to make (required; must not exist), on that filesystem or another one over a dm device')
          .requiredOption('--size <size>', 'the store size (required): e.g. 2G, 10% of the filesystem, 1G-20% (see Sizes)')
          .option('--mode <mode>', 'checkpoint (the filesystem stays mounted and writable; rollback merges) or update (the update is written into /dev/mapper/snapstore-NAME; commit merges)', 'checkpoint')
          .option('--chunk-size <size>', 'snapshot chunk size (a power of two; a plain size)', '4K')
          .option('--full-proof', "prove every segment of the store's map, not a sample spread over the device")
          .option('--watch', 'start the watcher for it (snapstore-watch@NAME under systemd when installed, else a detached `snapstore watch NAME`)')
          .option('--boot-attempts <n>', 'a health-gated commit: N boots may try the update (each counted by activate); if none of them commits it, the next boot rolls it back at activate, before the filesystem is mounted')
          .option('--dry-run', 'print every table and step; change nothing')
          .addHelpText('after', SIZES),
        'snapstore create update-42 --origin /dev/mapper/data --store /data/.snapstore/update-42.store --size 2G',
        'snapstore create update-42 --origin /dev/mapper/data --store /data/.snapstore/update-42.store --size 2G --dry-run',
        'snapstore create rootfs-b --mode update --origin /dev/sda3 --store /data/.snapstore/rootfs-b.store --size 1G',
        'snapstore create update-42 --origin /dev/mapper/data --store /data/.snapstore/update-42.store --size 2G --boot-attempts 3',
      ),
    ),
  ).action(command('create', (opts, name) => ({ name, ...opts })));

  common(examples(program.command('status [name]').summary('show one snapshot or all: state, store usage, health').description('mode, state, store usage, health of one snapshot or all, and whether kernel and manifest agree'), 'snapstore status', 'snapstore status update-42 --json')).action(
    command('status', (opts, name) => ({ ...(name !== undefined ? { name } : {}), ...opts })),
  );
  common(examples(program.command('list').summary('list every snapshot, one line each'), 'snapstore list')).action(command('status', (opts) => opts));
  common(
    examples(
      program
        .command('diff <name>')
        .summary('the files an update added, removed and changed since a checkpoint')
        .description(
          "what the update changed since checkpoint NAME was made: the files added (A), removed (D) and changed (M, and what: type, size, mode, owner, symlink target, content), read from the snapshot and the origin mounted read-only for the while; contents are read where the size is the same and the mtime not",
        ),
      'snapstore diff update-42',
      'snapstore diff update-42 --json',
    ),
  ).action(command('diff', (opts, name) => ({ name, ...opts })));

  const activate = program
    .command('activate [names...]').summary('at boot, before mounting: rebuild the snapshots after a reboot')
    .description('after a reboot, before the filesystems are mounted: rebuild every snapshot (or those named); a pending rollback starts merging; a snapshot with a boot budget has this boot counted, and is rolled back once the budget is spent')
    .option('--auto', 'what activate always does, accepted for scripts that spell it: count this boot against each boot budget, roll back a snapshot whose budget is spent, and say which it did and why')
    // Given here by mistake (the budget is create's): refused by name rather than as an unknown option.
    .addOption(new Option('--boot-attempts <n>').hideHelp());
  common(waitLock(examples(activate, 'snapstore activate'))).action(async (names: string[], opts: Record<string, unknown>) => {
    const { run } = (await import('./commands/activate.js')) as { run: (o: object, c: CommandContext) => Promise<void> };
    await run({ names, ...opts }, ctx);
  });

  common(
    waitLock(
      examples(
        program
          .command('commit <name>').summary('keep the update, and drop the way back')
          .description('keep the update (idempotent): a checkpoint drops its snapshot and store; an update is merged into its origin (snapstore-NAME keeps showing it meanwhile)')
          .option('--wait', 'update mode: wait until the merge is done (progress on a terminal)')
          .option('--offline', 'update mode: merge with our offline merge (the origin and snapshot unused; fast, blocks until done)'),
        'snapstore commit update-42',
        'snapstore commit rootfs-b --offline',
      ),
    ),
  ).action(command('commit', (opts, name) => ({ name, ...opts })));

  common(
    waitLock(
      examples(
        program
          .command('rollback <name>').summary('undo the update: bring the old contents back')
          .description('bring the old contents back: a checkpoint is merged back (the origin shows the old contents at once), an update is dropped; pending until the next boot while in use')
          .option('--wait', 'wait until the merge is done (progress on a terminal)')
          .option('--offline', 'checkpoint: merge with our offline merge (the origin unmounted; fast, blocks until done)')
          .option('--keep-store', 'keep the store file afterwards'),
        'snapstore rollback update-42 --wait',
        'snapstore rollback update-42 --offline',
      ),
    ),
  ).action(command('rollback', (opts, name) => ({ name, ...opts })));

  common(
    waitLock(
      examples(
        program
          .command('extend <name>').summary("grow a live snapshot's store, online")
          .description("grow a live snapshot's store, online: the file grows, its new blocks are proved and mapped, the snapshot sees the size at once")
          .option('--by <size>', "grow by this much: e.g. 512M, 5% of the store's filesystem (see Sizes)")
          .option('--to <size>', 'grow to this usable size: e.g. 4G, 20%, 100%USED (see Sizes)')
          .option('--keep-free <size|pct>', "leave this much of the store's filesystem free for everyone else, e.g. 1G or 10% (default 5%; root's reserved blocks are never used; no %USED or range)")
          .addHelpText('after', SIZES),
        'snapstore extend update-42 --by 1G',
        'snapstore extend update-42 --to 4G --keep-free 10%',
      ),
    ),
  ).action(command('extend', (opts, name) => ({ name, ...opts })));

  const watch = program
    .command('watch [names...]').summary("grow live snapshots' stores ahead of their writers")
    .description('keep live snapshots\' stores ahead of their writers: poll usage (dm status ioctl), grow each store before it fills by a step that follows the fill rate; warn, then apply --on-full, when one cannot grow. One line per decision (JSON lines with --json); SIGTERM stops it cleanly')
    .option('--interval <ms>', 'how often usage is read', '100')
    .option('--max <size>', 'no store grows past this usable size: e.g. 8G, 20% of its filesystem, 100%USED (see Sizes)')
    .option('--keep-free <size|pct>', "leave this much of each store's filesystem free, e.g. 1G or 10% (default 5%; no %USED or range)")
    .option('--on-full <policy>', `when a store cannot grow and is about to fill: abort (default: stop writes to the device, the snapshot stays valid), commit (keep the update, drop the snapshot) or invalidate (let it go)`)
    .option('--min-step <size>', 'the smallest growth: e.g. 16M, 1% (see Sizes)', '16M')
    .option('--lead <seconds>', 'grow when a store would be full within this long at the measured rate', '5')
    .addHelpText('after', `${SIZES}\n  watch works a share out for each store once, when it starts watching it; where\n  it cannot (an empty range), that store cannot grow, and says so.`);
  common(examples(watch, 'snapstore watch', 'snapstore watch update-42 --max 8G --on-full commit --json')).action(async (names: string[], opts: Record<string, unknown>) => {
    const { run } = (await import('./commands/watch.js')) as { run: (o: object, c: CommandContext) => Promise<void> };
    await run({ names, ...opts }, ctx);
  });

  common(
    waitLock(
      examples(program.command('discard <name>').summary('drop a snapshot without merging').description('drop the snapshot without merging; the origin keeps its current contents').option('--keep-store', 'keep the store file'), 'snapstore discard update-42'),
    ),
  ).action(command('discard', (opts, name) => ({ name, ...opts })));

  common(
    waitLock(
      examples(
        program
          .command('enroll <device>').summary('put a plain partition behind a passthrough so checkpoints work on it')
          .description('a data filesystem on a plain partition (give the partition or its mount point): from boot on, mount it through /dev/mapper/snapstore-NAME (activate maps it), so that checkpoints work on it; points its fstab (for LUKS, crypttab) entry at it, keeping the old line as a comment')
          .requiredOption('--name <name>', 'the name of the passthrough (required): /dev/mapper/snapstore-NAME')
          .option('--fstab <file>', 'the fstab to edit', '/etc/fstab')
          .option('--crypttab <file>', 'the crypttab to edit (LUKS)', '/etc/crypttab')
          .option('--print-only', 'leave fstab and crypttab alone: print the lines to change'),
        'snapstore enroll /data --name data',
      ),
    ),
  ).action(command('enroll', (opts, device) => ({ device, ...opts })));

  common(
    waitLock(
      examples(
        program
          .command('unenroll <name>').summary('undo enroll: mount the partition itself again')
          .description('undo enroll: the passthrough goes (now, or at the next boot while it is in use); the fstab (crypttab) line enroll replaced is put back')
          .option('--fstab <file>', 'the fstab enroll edited', '/etc/fstab')
          .option('--crypttab <file>', 'the crypttab enroll edited (LUKS)', '/etc/crypttab')
          .option('--print-only', 'leave fstab and crypttab alone'),
        'snapstore unenroll data',
      ),
    ),
  ).action(command('unenroll', (opts, name) => ({ name, ...opts })));

  common(
    waitLock(examples(program.command('recover').summary('after a crash: finish or undo what was interrupted').description('after a crash: resume devices left suspended, finish or undo interrupted steps, say what was done'), 'snapstore recover')),
  ).action(command('recover', (opts) => opts));

  common(
    examples(
      program
        .command('doctor [path]').summary('check this machine (and a filesystem) for what snapstore needs')
        .description("check the machine for what snapstore needs (root, device-mapper and its targets, the kernel's raw writes, the state directory, the boot integration) and, given a path, the filesystem that holds it (what it sits on, which modes work there, the state directory off it, an update agent's record on it); each finding with its fix; changes nothing; exit 1 when a check failed")
        .addHelpText('after', '\nEach finding is ok, warn (works, with a caveat, or untested) or fail (a command\nwould refuse, or the way back would be lost), with its fix.'),
      'snapstore doctor',
      'snapstore doctor /data',
      'snapstore doctor /data --json',
    ),
  ).action(command('doctor', (opts, path) => ({ ...(path !== undefined ? { path } : {}), ...opts })));

  const kinds = [
    new Option('--systemd', 'snapstore-activate.service into /etc/systemd/system, then systemctl daemon-reload and enable'),
    new Option('--initramfs-tools', 'the hook and local-bottom script into /etc/initramfs-tools, then update-initramfs -u -k all'),
    new Option('--dracut', 'the module into /usr/lib/dracut/modules.d/90snapstore, then dracut -f --regenerate-all'),
  ];
  for (const k of kinds) k.conflicts(kinds.filter((o) => o !== k).map((o) => o.attributeName()));
  const installBoot = program
    .command('install-boot').summary('make activate run at every boot (systemd, initramfs-tools, dracut)')
    .description('run `snapstore activate` at every boot, before the data filesystems are mounted: install the systemd unit, the initramfs-tools hook or the dracut module, and take it in (default: systemd when it is the running init)');
  for (const k of kinds) installBoot.addOption(k);
  examples(
    installBoot
      .option('--root <dir>', 'install into the image built under DIR instead: nothing is run, it says what to run in the image')
      .option('--dry-run', 'check, and say what it would install and run; change nothing')
      .option('--json', 'print the result as JSON on stdout'),
    'snapstore install-boot',
    'snapstore install-boot --initramfs-tools --dry-run',
    'snapstore install-boot --dracut --root /srv/image',
  ).action(command('install-boot', (opts) => opts));

  examples(
    program
      .command('help [command...]').summary('show the help of a command, with its examples')
      .action((words: string[]) => {
        findCommand(program, words).outputHelp();
      }),
    'snapstore help store create',
  );

  return program;
}
