// The update agents' examples (examples/): every hook parses and passes shellcheck
// (with the library it sources, and the VM's RAUC bootloader backend), and every
// unit verifies clean with `systemd-analyze`, its ExecStart a hook of examples/ at
// the place the READMEs install it, ordered where its README says. What the hooks
// do with the real clients: test/kernel/agents-rauc-swupdate.test.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeShellScripts } from '../support/shell-scripts.js';
import { expectVerifiesClean, values } from '../support/systemd-units.js';

const files = (dir: string) => fs.readdirSync(dir).map((f) => path.join(dir, f));
const HOOKS = ['examples/rauc', 'examples/swupdate'].flatMap(files).filter((f) => path.basename(f).startsWith('snapstore-') && !f.endsWith('.service'));
const UNITS = ['examples/rauc', 'examples/swupdate'].flatMap(files).filter((f) => f.endsWith('.service'));

describeShellScripts('hooks', [...HOOKS, 'test/kernel/agents-rauc-bootloader.sh'], ['examples/common/snapstore-checkpoint.sh']);

describe('units', () => {
  it.each(UNITS)('%s verifies clean; what it runs is a hook of examples/, installed under /usr/lib/snapstore', async (unit) => {
    const text = fs.readFileSync(unit, 'utf8');
    const [exec] = values(text, 'ExecStart');
    if (exec!.startsWith('/usr/lib/snapstore/')) {
      const hook = path.join('examples', exec!.slice('/usr/lib/snapstore/'.length));
      expect(HOOKS).toContain(hook);
      // Verified as installed: the hook where the unit looks for it, the units it requires beside it.
      const companions = Object.fromEntries(values(text, 'Requires').filter((u) => UNITS.some((f) => path.basename(f) === u)).map((u) => [u, fs.readFileSync(path.join(path.dirname(unit), u), 'utf8')]));
      await expectVerifiesClean(text.replace(exec!, path.resolve(hook)), path.basename(unit), companions);
    } else {
      expect(exec).toBe('/usr/bin/rauc');
      await expectVerifiesClean(text, path.basename(unit));
    }
  });

  it.each(UNITS.filter((u) => /commit|mark-good/.test(u)))('%s runs only in a boot that reached boot-complete.target', (unit) => {
    const text = fs.readFileSync(unit, 'utf8');
    expect(values(text, 'Requires')).toContain('boot-complete.target');
    expect(values(text, 'After')).toContain('boot-complete.target');
  });

  it('snapstore-rauc-commit.service runs only once rauc-mark-good.service succeeded', () => {
    const text = fs.readFileSync('examples/rauc/snapstore-rauc-commit.service', 'utf8');
    expect(values(text, 'Requires')).toContain('rauc-mark-good.service');
    expect(values(text, 'After')).toContain('rauc-mark-good.service');
  });

  it.each(UNITS.filter((u) => /mark-bad|failed/.test(u)))('%s reboots, whether or not it succeeded', (unit) => {
    const text = fs.readFileSync(unit, 'utf8');
    expect(values(text, 'SuccessAction')).toEqual(['reboot']);
    expect(values(text, 'FailureAction')).toEqual(['reboot']);
  });
});
