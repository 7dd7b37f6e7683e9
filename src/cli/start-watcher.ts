/**
 * `create --watch`: the watcher started for a new snapshot. Under systemd
 * with the unit installed (and the default state directory, which the unit
 * uses) it is `snapstore-watch@NAME.service`; otherwise a detached
 * `snapstore watch NAME` whose JSON lines go to STATE_DIR/watch/NAME.log.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SnapstoreError } from '../errors.js';
import { runProgram } from '../linux/run.js';
import { DEFAULT_STATE_DIR } from '../state/state-dir.js';

const UNIT_DIRS = ['/etc/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system'];

export async function startWatcher(name: string, stateDir: string): Promise<string> {
  const unit = `snapstore-watch@${name}.service`;
  const underSystemd = fs.existsSync('/run/systemd/system');
  const installed = UNIT_DIRS.some((d) => fs.existsSync(path.join(d, 'snapstore-watch@.service')));
  if (underSystemd && installed && path.resolve(stateDir) === DEFAULT_STATE_DIR) {
    const r = await runProgram('systemctl', ['start', '--no-block', unit]);
    if (r.exitCode !== 0) {
      throw new SnapstoreError('WATCH_NOT_STARTED', `the snapshot was made, but ${unit} did not start: ${r.stderr.trim()}`, { hint: `start it by hand: systemctl start ${unit}, or run \`snapstore watch ${name}\`` });
    }
    return `the watcher runs as ${unit} (journalctl -u ${unit})`;
  }
  const folder = path.join(stateDir, 'watch');
  fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
  const log = path.join(folder, `${name}.log`);
  const fd = fs.openSync(log, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND | fs.constants.O_NOFOLLOW, 0o600);
  try {
    const bin = path.resolve(path.dirname(process.argv[1] ?? ''), path.basename(process.argv[1] ?? 'snapstore'));
    const child = spawn(process.execPath, [bin, 'watch', name, '--state-dir', stateDir, '--json'], { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    return `the watcher runs as process ${child.pid}; its log: ${log}`;
  } finally {
    fs.closeSync(fd);
  }
}
