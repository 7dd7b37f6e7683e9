// The systemd units in the repo: `systemd-analyze verify` finds nothing wrong
// with them (the watcher's checked as an instance, snapstore-watch@NAME.service,
// as it is started), and each runs what it should.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { expect, it } from 'vitest';

/** `systemd-analyze verify` of `text` saved as `name`: exit 0, and no line about the unit. */
async function expectVerifiesClean(text: string, name: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-unit-'));
  try {
    const unit = path.join(dir, name);
    fs.writeFileSync(unit, text);
    const r = await execa('systemd-analyze', ['verify', unit], { reject: false, env: { SYSTEMD_LOG_LEVEL: 'warning' } });
    expect(r.stderr.split('\n').filter((l) => l.includes(name.replace(/@.*/, '')))).toEqual([]);
    expect(r.exitCode).toBe(0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The values of `key=` lines, split at spaces. */
const values = (text: string, key: string): string[] => [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].flatMap((m) => (m[1] ?? '').split(' '));

it('systemd/snapstore-watch@.service verifies clean and runs the watcher of its instance', async () => {
  const text = fs.readFileSync('systemd/snapstore-watch@.service', 'utf8');
  expect(text).toMatch(/^ExecStart=.* snapstore watch %i --json$/m);
  await expectVerifiesClean(text, 'snapstore-watch@update-42.service');
});

it('systemd/snapstore-activate.service verifies clean and runs activate before local filesystems and crypt devices, once the root is writable', async () => {
  const text = fs.readFileSync('systemd/snapstore-activate.service', 'utf8');
  expect(text).toMatch(/^ExecStart=\/usr\/bin\/env snapstore activate$/m);
  expect(values(text, 'DefaultDependencies')).toEqual(['no']);
  expect(values(text, 'Type')).toEqual(['oneshot']);
  expect(values(text, 'RemainAfterExit')).toEqual(['yes']);
  expect(values(text, 'Before')).toEqual(expect.arrayContaining(['local-fs-pre.target', 'cryptsetup-pre.target']));
  expect(values(text, 'After')).toEqual(expect.arrayContaining(['systemd-remount-fs.service', 'systemd-udevd.service']));
  expect(values(text, 'After')).not.toContain('cryptsetup.target');
  expect(values(text, 'RequiresMountsFor')).toEqual(['/var/lib/snapstore']);
  expect(values(text, 'Conflicts')).toEqual(['shutdown.target']);
  expect(values(text, 'WantedBy')).toEqual(['local-fs-pre.target']);
  await expectVerifiesClean(text, 'snapstore-activate.service');
});
