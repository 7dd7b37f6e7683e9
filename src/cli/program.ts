/**
 * The command line: argv to options, one library call per command. Each
 * command's module is imported only when that command runs, so every call
 * pays only for what it uses.
 */
import { Command, CommanderError, Option } from 'commander';
import type { CommandContext } from './context.js';

/** Commander stopped: help or version shown (exit 0), or a command line it could not take (exit 2). */
export class UsageError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

const DEFAULT_STATE_DIR = '/var/lib/snapstore';

function common(cmd: Command): Command {
  return cmd
    .addOption(new Option('--state-dir <dir>', 'where manifests live').default(DEFAULT_STATE_DIR))
    .option('--json', 'print the result as JSON on stdout');
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
      const { run } = (await import(`./commands/${module}.js`)) as { run: (o: object, c: CommandContext) => Promise<void> };
      await run(options(opts, args.length > 2 ? (args[0] as string | undefined) : undefined), ctx);
    };

  const program = new Command('snapstore')
    .description('A way back for OTA updaters: a preallocated file as a device-mapper snapshot store')
    .exitOverride((err: CommanderError) => {
      throw new UsageError(err.exitCode === 0 ? 0 : 2, err.message);
    })
    // With --json, a usage error is reported as JSON by main(), not as text here.
    .configureOutput({ writeErr: (text) => (ctx.json ? undefined : ctx.err(text.trimEnd())) })
    .showHelpAfterError('(run with --help for usage)');
  program.option('-V, --version', 'print the version');

  const store = program.command('store').description('store files: create, verify, attach as a device, detach, delete');

  common(
    store
      .command('create <name>')
      .description('preallocate a store file, prove its map and record it in a manifest')
      .requiredOption('--store <file>', 'the store file to create (required; must not exist)')
      .requiredOption('--size <size>', 'size, e.g. 512M, 1.5G (required; binary units)')
      .option('--chunk-size <size>', 'snapshot chunk size (power of two)', '4K')
      .option('--zero', 'write zeros over the whole file first (slow; shows progress on a terminal)'),
  ).action(command('store-create', (opts, name) => ({ name, ...opts })));

  common(store.command('list').description('the stores this state directory knows, and what uses each')).action(command('store-list', (opts) => opts));

  common(store.command('verify <name>').description("re-map a store and compare it with its manifest")).action(command('store-verify', (opts, name) => ({ name, ...opts })));

  common(
    store.command('delete <name>').description('clear the immutable flag, delete the store file and its manifest'),
  ).action(command('store-delete', (opts, name) => ({ name, ...opts })));

  common(
    store
      .command('attach <name>')
      .description('map a store as /dev/mapper/snapstore-NAME-cow, after checking its map still holds')
      .option('--no-fallback', 'fail (EBUSY explained) rather than use a loop device when the filesystem is directly on a partition'),
  ).action(command('store-attach', (opts, name) => ({ name, ...opts })));

  common(store.command('detach <name>').description('remove the store\'s dm device (and loop device), and pin the file again')).action(command('store-detach', (opts, name) => ({ name, ...opts })));

  program
    .command('map <file>')
    .description("print the file's extents as a dm `linear` table (or --json); changes nothing")
    .option('--chunk-size <size>', 'align extents to this chunk size on the device', '4K')
    .option('--json', 'print the extents as JSON')
    .action(command('map', (opts, file) => ({ file, ...opts })));

  common(
    program
      .command('inspect [device-or-image]')
      .description('report on a dm-snapshot persistent store: a device or image (any maker), or --store NAME (ours)')
      .option('--store <name>', 'one of our stores, read raw through its map')
      .option('--exceptions', 'also list every exception (origin chunk -> store chunk)'),
  ).action(command('inspect', (opts, cow) => ({ cow, ...opts })));

  common(
    program
      .command('merge')
      .description('merge a snapshot store into its origin without the kernel (restartable)')
      .option('--offline', 'merge in userspace (required: the kernel merge comes with the snapshot commands)')
      .requiredOption('--origin <dev>', 'the origin device or image to write (required; nothing may have it open)')
      .option('--cow <dev>', 'the store: an image or block device (any dm-snapshot persistent store)')
      .option('--store <name>', 'the store: one of ours, read through its map')
      .option('--force', 'merge a store marked invalid (the result may be corrupt)')
      .option('--verify', 're-read what was written and compare')
      .option('--dry-run', 'say what would be written, write nothing'),
  ).action(command('merge', (opts) => opts));

  common(
    program
      .command('export <out>')
      .description("write the snapshot's view (origin with the store's exceptions applied) to a new image; changes neither input")
      .requiredOption('--origin <dev>', 'the origin device or image (required)')
      .option('--cow <dev>', 'the store: an image or block device')
      .option('--store <name>', 'the store: one of ours, read through its map')
      .option('--force', 'export from a store marked invalid'),
  ).action(command('export', (opts, out) => ({ out, ...opts })));

  return program;
}
