// The systemd units in the repo: `systemd-analyze verify` finds nothing wrong
// with them (the watcher's checked as an instance, snapstore-watch@NAME.service,
// as it is started), and each runs what it should.
import * as fs from 'node:fs';
import { expect, it } from 'vitest';
import { expectVerifiesClean, values } from '../support/systemd-units.js';

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
