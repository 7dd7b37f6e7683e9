/**
 * The update agent's own record on PATH's filesystem: a rollback of that
 * filesystem rolls the record back with it (the agent then sees the update
 * as never made, or as still pending). Looked for: Mender's state folder
 * (/data/mender; /var/lib/mender links there), RAUC's data-directory and
 * statusfile (/etc/rauc/system.conf), SWUpdate (/etc/swupdate.cfg), which
 * keeps its update state in the bootloader's environment instead.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ok, warn, type Finding } from './finding.js';

export interface AgentState {
  readonly agent: string;
  /** where it keeps its state, as a path of the running system */
  readonly path: string;
}

export interface AgentsFound {
  readonly states: readonly AgentState[];
  /** agents found whose state lives on no filesystem (SWUpdate: the bootloader's environment) */
  readonly offFilesystem: readonly string[];
}

/** The [system] section's data-directory and statusfile of RAUC's system.conf (a statusfile of "per-slot" is kept with each slot). */
export function raucStatePaths(text: string): string[] {
  let section = '';
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) section = line;
    const m = section === '[system]' ? /^(data-directory|statusfile)\s*=\s*(\S.*)$/.exec(line) : null;
    if (m && m[2]!.startsWith('/')) out.push(m[2]!.trim());
  }
  return out;
}

/** The update agents installed under `root` (the running system: /) and where each keeps its state. */
export function findAgents(root: string): AgentsFound {
  const at = (p: string) => path.join(root, p);
  const states: AgentState[] = [];
  const mender = ['/data/mender', '/var/lib/mender'].filter((p) => fs.existsSync(at(p))).map((p) => path.relative(root, fs.realpathSync(at(p))));
  for (const p of new Set(mender)) states.push({ agent: 'Mender', path: `/${p}` });
  try {
    for (const p of raucStatePaths(fs.readFileSync(at('/etc/rauc/system.conf'), 'utf8'))) states.push({ agent: 'RAUC', path: p });
  } catch {
    // no RAUC
  }
  return { states, offFilesystem: fs.existsSync(at('/etc/swupdate.cfg')) ? ['SWUpdate'] : [] };
}

/** `onPathFs`: whether a path (of the running system) is on PATH's filesystem, or would be once made. */
export function checkUpdateAgents(found: AgentsFound, onPathFs: (p: string) => boolean, label: string): Finding {
  const check = 'update-agents';
  const off = found.offFilesystem.map((a) => `${a} keeps its update state in the bootloader's environment, off any filesystem`);
  const on = found.states.filter((s) => onPathFs(s.path));
  const elsewhere = found.states.filter((s) => !on.includes(s)).map((s) => `${s.agent}'s state (${s.path}) is on another filesystem`);
  if (on.length) {
    return warn(
      check,
      `${on.map((s) => `${s.agent}'s state (${s.path})`).join(' and ')} ${on.length === 1 ? 'is' : 'are'} on ${label}'s filesystem: a rollback of it rolls back the agent's own record of the update too (it would see the update as never made, or still pending)${[...elsewhere, ...off].map((t) => `; ${t}`).join('')}`,
      "keep the agent's state on a filesystem no checkpoint rolls back, or have the agent record the outcome again after a rollback (its record returns to the moment of the checkpoint)",
    );
  }
  if (elsewhere.length || off.length) return ok(check, `${[...elsewhere, ...off].join('; ')}: a rollback of ${label} leaves the agent's record alone`);
  return ok(check, "no update agent's state found (looked for Mender's /data/mender, RAUC's /etc/rauc/system.conf, SWUpdate's /etc/swupdate.cfg)");
}
