/**
 * The state directory: trusted (the state layer's own checks, as every
 * command runs them), readable at boot (install-boot's fstab check), and off
 * the filesystem a checkpoint would roll back (the lifecycle's own check).
 */
import * as path from 'node:path';
import { checkStateDirOnRoot } from '../boot/install.js';
import type { DeviceNumber } from '../linux/device-number.js';
import { checkStateDirOffOrigin, type StackView } from '../snapshot/checks.js';
import type { Target } from '../dm/targets.js';
import { DEFAULT_STATE_DIR, StateDir } from '../state/state-dir.js';
import { ok, refusal, warn, type Finding } from './finding.js';

export function checkStateDir(stateDir: string): Finding {
  try {
    const dir = StateDir.find(stateDir);
    if (!dir) return ok('state-dir', `${stateDir} is not there yet: the first command that records something makes it (root's, mode 0700)`);
    return ok('state-dir', `${dir.path}: root's and writable by root alone, as is everything in it and every folder above it`);
  } catch (err) {
    return refusal('state-dir', err);
  }
}

/** `root`: where /etc/fstab is read (the running system: /). */
export function checkStateDirAtBoot(stateDir: string, root: string): Finding {
  const check = 'state-dir-at-boot';
  if (path.normalize(stateDir) !== DEFAULT_STATE_DIR) {
    return warn(check, `the boot integration activates the snapshots of ${DEFAULT_STATE_DIR} only: those recorded in ${stateDir} are not rebuilt at boot`, `keep snapstore's state in ${DEFAULT_STATE_DIR} (the default), or run \`snapstore activate --state-dir ${stateDir}\` at boot yourself, before the data filesystems are mounted`);
  }
  try {
    checkStateDirOnRoot(root);
    return ok(check, `${DEFAULT_STATE_DIR} is on the root filesystem (${path.join(root, 'etc/fstab')} mounts nothing of its own at or above it): the boot reads it before the data filesystems are mounted`);
  } catch (err) {
    return refusal(check, err);
  }
}

/** The filesystem a checkpoint of PATH would roll back: its device (and dm table, where it has one). */
export interface PathOrigin {
  readonly dev: DeviceNumber;
  readonly dmName: string | undefined;
  readonly table: readonly Target[];
}

export function checkStateDirOffPath(system: StackView, stateDir: string, origin: PathOrigin, label: string): Finding {
  try {
    checkStateDirOffOrigin(system, stateDir, origin);
    return ok('state-dir-location', `${stateDir} is on another filesystem than ${label}: a rollback of ${label} leaves snapstore's records alone`);
  } catch (err) {
    return refusal('state-dir-location', err);
  }
}
