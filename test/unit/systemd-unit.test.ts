// The watcher's systemd unit in the repo: `systemd-analyze verify` finds nothing
// wrong with it (checked as an instance, snapstore-watch@NAME.service, as it is
// started), and it runs `snapstore watch %i`.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { expect, it } from 'vitest';

it('systemd/snapstore-watch@.service verifies clean and runs the watcher of its instance', async () => {
  const text = fs.readFileSync('systemd/snapstore-watch@.service', 'utf8');
  expect(text).toMatch(/^ExecStart=.* snapstore watch %i --json$/m);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapstore-unit-'));
  try {
    const unit = path.join(dir, 'snapstore-watch@update-42.service');
    fs.writeFileSync(unit, text);
    const r = await execa('systemd-analyze', ['verify', unit], { reject: false, env: { SYSTEMD_LOG_LEVEL: 'warning' } });
    expect(r.stderr.split('\n').filter((l) => l.includes('snapstore-watch'))).toEqual([]);
    expect(r.exitCode).toBe(0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
