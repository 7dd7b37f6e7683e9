// The boot budget on the command line: create --boot-attempts as it reaches
// the library (every bad value refused before the library is called), what
// activate says for each snapshot (text and --json), status's BOOTS column,
// and --boot-attempts where it means nothing. The library calls are replaced:
// the lifecycle itself is tested in test/host/lifecycle-boots.test.ts.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Command } from 'commander';
import { buildProgram, UsageError } from '../../src/cli/program.js';
import { run as activate } from '../../src/cli/commands/activate.js';
import { run as create } from '../../src/cli/commands/create.js';
import { run as status } from '../../src/cli/commands/status.js';
import type { ActivateResult } from '../../src/snapshot/activate.js';
import type { SnapshotReport } from '../../src/snapshot/status.js';
import { capture } from '../support/capture.js';

const seen = vi.hoisted(() => ({ create: [] as Record<string, unknown>[], activated: [] as unknown[], reports: [] as unknown[], warnings: [] as { message: string; hint: string }[] }));
vi.mock('../../src/snapshot/create.js', async (original) => ({
  ...(await original<object>()),
  createSnapshot: async (o: Record<string, unknown>) => {
    seen.create.push(o);
    const bootAttempts = o['bootAttempts'] === undefined ? {} : { bootAttempts: { budget: o['bootAttempts'], used: 0, lastBoot: 'b0' } };
    return { manifest: { name: o['name'], mode: 'checkpoint', state: 'active', origin: { dmName: 'data', dmUuid: '', sectors: 8 }, store: o['name'], chunkSize: 4096, ...bootAttempts }, plan: { steps: [], tables: [] }, warnings: seen.warnings };
  },
}));
vi.mock('../../src/snapshot/activate.js', async (original) => ({ ...(await original<object>()), activateSnapshots: async () => seen.activated }));
vi.mock('../../src/snapshot/status.js', async (original) => ({ ...(await original<object>()), snapshotStatus: () => seen.reports }));

const stateDir = '/nonexistent-state';
const createOptions = { name: 'update-1', origin: '/dev/mapper/data', store: '/data/.snapstore/update-1.store', size: '16M', mode: 'checkpoint', chunkSize: '4K', stateDir };
beforeEach(() => {
  seen.create.length = 0;
  seen.warnings = [];
});

describe('create: warnings', () => {
  it("an update agent's record on the origin: `warning:` on stderr with the way out; with --json, the result's warnings", async () => {
    seen.warnings = [{ message: "RAUC's state (/data/rauc) is on data's filesystem: a rollback of it rolls back the agent's own record of the update too", hint: "keep the agent's state on a filesystem no checkpoint rolls back" }];
    const c = capture();
    await create(createOptions, c.ctx);
    expect(c.err).toEqual(["warning: RAUC's state (/data/rauc) is on data's filesystem: a rollback of it rolls back the agent's own record of the update too; way out: keep the agent's state on a filesystem no checkpoint rolls back"]);
    expect(c.out.at(-1)).toMatch(/^created checkpoint "update-1"/);
    const j = capture({ json: true });
    await create(createOptions, j.ctx);
    expect(j.results[0]).toMatchObject({ name: 'update-1', warnings: seen.warnings });
  });

  it('none: nothing on stderr, no warnings field', async () => {
    const j = capture({ json: true });
    await create(createOptions, j.ctx);
    expect(j.err).toEqual([]);
    expect(j.results[0]).not.toHaveProperty('warnings');
  });
});

describe('create --boot-attempts', () => {
  it('a positive whole number goes to the library as a number; the result says what it means', async () => {
    const c = capture();
    await create({ ...createOptions, bootAttempts: '3' }, c.ctx);
    expect(seen.create[0]).toMatchObject({ bootAttempts: 3 });
    expect(c.out.at(-1)).toBe('3 boot attempts from the next boot on: `snapstore commit update-1` once a boot is healthy; if none of them commits, the boot after them rolls back');
    const j = capture({ json: true });
    await create({ ...createOptions, bootAttempts: '1' }, j.ctx);
    expect(j.results[0]).toMatchObject({ name: 'update-1', bootAttempts: 1 });
  });

  it('without it, no budget is passed', async () => {
    await create(createOptions, capture().ctx);
    expect(seen.create[0]).not.toHaveProperty('bootAttempts');
  });

  it.each(['0', '-1', '1.5', 'three', '', ' 3', '3x', '1e3', '99999999999999999999'])('--boot-attempts "%s" is refused (exit 2) before the library is called', async (n) => {
    await expect(create({ ...createOptions, bootAttempts: n }, capture().ctx)).rejects.toMatchObject({
      code: 'BAD_VALUE',
      usage: true,
      message: `--boot-attempts "${n}" is not a positive whole number of boots`,
      hint: expect.stringMatching(/--boot-attempts 3: three boots may try the update; if none of them commits it, the fourth rolls it back/),
    });
    expect(seen.create).toEqual([]);
  });
});

describe('activate', () => {
  const counted: ActivateResult = {
    name: 'update-1',
    action: 'activated',
    message: 'snapshot "update-1" is active again over data',
    bootAttempts: { outcome: 'counted', used: 2, budget: 3, message: 'boot attempt 2 of 3 (not yet committed)' },
  };
  const spent: ActivateResult = {
    name: 'update-2',
    action: 'merge-started',
    message: 'the rollback of "update-2" started: data shows the old contents and can be mounted now; the kernel merges underneath',
    bootAttempts: { outcome: 'spent', used: 3, budget: 3, message: '3 boot attempts spent without a commit: rolling back (the merge runs now, before the filesystem on data is mounted)' },
  };
  const plain: ActivateResult = { name: 'other', action: 'activated', message: 'snapshot "other" is active again over data2' };

  it('says for each snapshot with a budget which it did and why, before what it did', async () => {
    seen.activated = [counted, spent, plain];
    const c = capture();
    await activate({ names: [], stateDir }, c.ctx);
    expect(c.out).toEqual([
      'update-1: boot attempt 2 of 3 (not yet committed)',
      counted.message,
      'update-2: 3 boot attempts spent without a commit: rolling back (the merge runs now, before the filesystem on data is mounted)',
      spent.message,
      plain.message,
    ]);
  });

  it('--json: the boot count is a field of each result', async () => {
    seen.activated = [counted, spent];
    const c = capture({ json: true });
    await activate({ names: [], stateDir }, c.ctx);
    expect(c.results[0]).toEqual({ schemaVersion: 1, snapshots: [counted, spent] });
  });

  it('--boot-attempts is refused by name: the budget is given to create', async () => {
    await expect(activate({ names: [], bootAttempts: '3', stateDir }, capture().ctx)).rejects.toMatchObject({ code: 'BAD_VALUE', usage: true, message: expect.stringMatching(/^--boot-attempts is not an option of activate: the budget is given when the snapshot is made/) });
  });
});

describe('status', () => {
  const report = (name: string, bootAttempts: SnapshotReport['bootAttempts'], state: SnapshotReport['state'] = 'active'): SnapshotReport => ({
    name,
    mode: 'checkpoint',
    state,
    origin: { dmName: 'data', device: '/dev/mapper/data' },
    snapshotDevice: null,
    store: { name, file: `/data/.snapstore/${name}.store`, size: (16 << 20) as never, pending: false },
    chunkSize: 4096 as never,
    usage: null,
    fill: null,
    bootAttempts,
    mergeRemaining: null,
    health: 'inactive',
    agrees: true,
    problems: [],
    busy: null,
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
  });

  it('BOOTS shows the attempts used of the budget, "spent" once activate rolled back, "-" without a budget', async () => {
    seen.reports = [report('update-1', { used: 2, budget: 3, spent: false }), report('update-2', { used: 3, budget: 3, spent: true }, 'merging'), report('other', null)];
    const c = capture();
    await status({ stateDir }, c.ctx);
    const header = c.out[0]!;
    const at = header.indexOf('BOOTS');
    expect(at).toBeGreaterThan(0);
    expect(c.out.slice(1).map((l) => l.slice(at).split(/\s{2,}/)[0])).toEqual(['2/3', '3/3 spent', '-']);
  });

  it('AGREES says busy while another command holds the state lock mid-step, and the step is named with its pid', async () => {
    seen.reports = [{ ...report('update-1', null), busy: { pid: 4242, unsettled: ['snapstore-update-1-cow maps 24 MiB, the store\'s manifest 32 MiB (an extension has not finished)'] } }, report('other', null)];
    const c = capture();
    await status({ stateDir }, c.ctx);
    const at = c.out[0]!.indexOf('AGREES');
    expect(c.out.slice(1, 3).map((l) => l.slice(at).trim())).toEqual(['busy', 'yes']);
    expect(c.out).toContain("  update-1: snapstore-update-1-cow maps 24 MiB, the store's manifest 32 MiB (an extension has not finished): in progress, pid 4242 holds the state lock (run status again once it ends)");
  });

  it.each([
    [{ used: 2, budget: 3, spent: false }, 'active', '2 of 3 boot attempts used, not yet committed: `snapstore commit update-1` once a boot is healthy'],
    [{ used: 3, budget: 3, spent: false }, 'active', '3 of 3 boot attempts used, not yet committed: unless it is committed in this boot, the next one rolls back'],
    [{ used: 3, budget: 3, spent: true }, 'merging', '3 of 3 boot attempts used without a commit: activate rolled back'],
    [{ used: 1, budget: 3, spent: false }, 'committed', '1 of 3 boot attempts used; committed'],
  ] as const)('status NAME: %j while %s', async (b, state, line) => {
    seen.reports = [report('update-1', b, state)];
    const c = capture();
    await status({ name: 'update-1', stateDir }, c.ctx);
    expect(c.out).toContain(`  boots:     ${line}`);
  });
});

describe('the command line', () => {
  const parse = (...argv: string[]) => buildProgram(capture().ctx).parseAsync(argv, { from: 'user' });

  it('--boot-attempts on a command where it means nothing is refused (exit 2), as an option that command does not have', async () => {
    for (const argv of [['rollback', 'update-1'], ['commit', 'update-1'], ['store', 'create', 's', '--store', '/data/s', '--size', '1G']]) {
      const err = await parse(...argv, '--boot-attempts', '3').catch((e: unknown) => e);
      expect(err, argv.join(' ')).toBeInstanceOf(UsageError);
      expect(err).toMatchObject({ exitCode: 2, message: expect.stringMatching(/unknown option '--boot-attempts'/) });
    }
  });

  it('create --boot-attempts without a number is refused (exit 2)', async () => {
    const err = await parse('create', 'update-1', '--origin', '/dev/mapper/data', '--store', '/data/u', '--size', '1G', '--boot-attempts').catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: 2, message: expect.stringMatching(/--boot-attempts <n>' argument missing/) });
  });

  it('the help of create names the option and shows it in an example; activate documents --auto and hides --boot-attempts', () => {
    const help = (name: string) => {
      const cmd = buildProgram(capture().ctx).commands.find((c: Command) => c.name() === name)!;
      let out = '';
      cmd.configureOutput({ writeOut: (s) => (out += s) });
      cmd.outputHelp();
      return out.replace(/\s+/g, ' ');
    };
    expect(help('create')).toMatch(/--boot-attempts <n> a health-gated commit: N boots may try the update/);
    expect(help('create')).toMatch(/snapstore create update-42 .* --boot-attempts 3/);
    expect(help('activate')).toMatch(/--auto what activate always does/);
    expect(help('activate')).not.toMatch(/--boot-attempts/);
  });
});
