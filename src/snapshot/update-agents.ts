/**
 * Where the update agents keep their own record of an update, and whether a
 * checkpoint would roll it back: a rollback of the filesystem that holds it
 * returns it to the moment of the checkpoint (the agent then sees the update
 * as never made, or as still pending). Looked for: Mender's state folder
 * (/data/mender; /var/lib/mender links there), RAUC's data-directory and
 * statusfile (/etc/rauc/system.conf), SWUpdate (/etc/swupdate.cfg), which
 * keeps its update state in the bootloader's environment instead. `create`
 * warns with this; `doctor` reports it as a finding.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

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

/** What is said of agents' states on `label`'s filesystem (at least one), and the way out. */
export function agentStateWarning(on: readonly AgentState[], label: string): { readonly message: string; readonly hint: string } {
  return {
    message: `${on.map((s) => `${s.agent}'s state (${s.path})`).join(' and ')} ${on.length === 1 ? 'is' : 'are'} on ${label}'s filesystem: a rollback of it rolls back the agent's own record of the update too (it would see the update as never made, or still pending)`,
    hint: "keep the agent's state on a filesystem no checkpoint rolls back, or have the agent record the outcome again after a rollback (its record returns to the moment of the checkpoint)",
  };
}
