/**
 * `doctor`: the machine checked for what snapstore needs, and, given a path,
 * the filesystem that holds it for what a checkpoint or an update needs
 * there. It changes nothing: no module is loaded, no directory made. Each
 * check is a function of facts read here (kernel.ts, path-facts.ts, the
 * platform), so each is tested on canned facts; this module only reads them
 * from the running system and runs the checks in a fixed order.
 */
import { bootInstalled } from '../boot/installed.js';
import { LinearTarget, type Target } from '../dm/targets.js';
import { sameDevice } from '../linux/device-number.js';
import { filesystemDevice } from '../linux/mountinfo.js';
import { linuxPlatform, type Platform } from '../snapshot/platform.js';
import type { Sectors } from '../units/units.js';
import { existingAncestor } from '../util/paths.js';
import { checkBootIntegration } from './boot-integration.js';
import { checkCheckpoint } from './checkpoint.js';
import { checkDeviceMapper, checkTargets, probeDeviceMapper } from './device-mapper.js';
import { checkPathFilesystem } from './filesystem.js';
import { refusal, type Finding } from './finding.js';
import { readKernelFacts } from './kernel.js';
import { readPathFacts, type PathFacts } from './path-facts.js';
import { checkRoot } from './root.js';
import { checkStateDir, checkStateDirAtBoot, checkStateDirOffPath } from './state-dir.js';
import { findAgents } from '../snapshot/update-agents.js';
import { checkUpdateAgents } from './update-agents.js';
import { checkUpdateMode } from './update-mode.js';
import { checkWriteMounted } from './write-mounted.js';

export interface DoctorOptions {
  /** a path on the filesystem to check for checkpoints and updates (none: the machine only) */
  readonly path?: string;
  readonly stateDir: string;
}

export function doctor(options: DoctorOptions): Finding[] {
  const kernel = readKernelFacts();
  const { probe, dm } = probeDeviceMapper();
  try {
    const findings = [
      checkRoot(process.geteuid?.() ?? 0),
      checkDeviceMapper(probe, kernel),
      checkTargets(probe, kernel),
      checkWriteMounted(kernel),
      checkStateDir(options.stateDir),
      checkStateDirAtBoot(options.stateDir, '/'),
      checkBootIntegration(bootInstalled('/')),
    ];
    if (options.path !== undefined) findings.push(...checkPath(options.path, options.stateDir, dm && linuxPlatform(dm)));
    return findings;
  } finally {
    dm?.close();
  }
}

function checkPath(given: string, stateDir: string, platform: Platform | undefined): Finding[] {
  let f: PathFacts;
  try {
    f = readPathFacts(given);
  } catch (err) {
    return [refusal('filesystem', err)];
  }
  const dmName = platform?.dm.nameOf(f.dev);
  // What a rollback of PATH's filesystem would roll back: its device, over its whole table.
  const table: readonly Target[] = platform && dmName !== undefined ? platform.dm.table(dmName) : f.device ? [new LinearTarget((f.device.size / 512) as Sectors, f.dev, 0 as Sectors)] : [];
  return [
    checkPathFilesystem(f),
    checkCheckpoint(f, platform),
    checkUpdateMode(f, platform),
    checkStateDirOffPath(platform ?? { dm: undefined, filesystemDevice }, stateDir, { dev: f.dev, dmName, table }, given),
    checkUpdateAgents(findAgents('/'), (p) => sameDevice(filesystemDevice(existingAncestor(p)), f.dev), given),
  ];
}
