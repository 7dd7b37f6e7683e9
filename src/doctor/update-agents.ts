/**
 * The update agent's own record on PATH's filesystem: a rollback of that
 * filesystem rolls the record back with it. Where each agent keeps it is found
 * by the snapshot layer (snapshot/update-agents.ts), whose `create` warns of it.
 */
import { agentStateWarning, type AgentsFound } from '../snapshot/update-agents.js';
import { ok, warn, type Finding } from './finding.js';

/** `onPathFs`: whether a path (of the running system) is on PATH's filesystem, or would be once made. */
export function checkUpdateAgents(found: AgentsFound, onPathFs: (p: string) => boolean, label: string): Finding {
  const check = 'update-agents';
  const off = found.offFilesystem.map((a) => `${a} keeps its update state in the bootloader's environment, off any filesystem`);
  const on = found.states.filter((s) => onPathFs(s.path));
  const elsewhere = found.states.filter((s) => !on.includes(s)).map((s) => `${s.agent}'s state (${s.path}) is on another filesystem`);
  if (on.length) {
    const w = agentStateWarning(on, label);
    return warn(check, `${w.message}${[...elsewhere, ...off].map((t) => `; ${t}`).join('')}`, w.hint);
  }
  if (elsewhere.length || off.length) return ok(check, `${[...elsewhere, ...off].join('; ')}: a rollback of ${label} leaves the agent's record alone`);
  return ok(check, "no update agent's state found (looked for Mender's /data/mender, RAUC's /etc/rauc/system.conf, SWUpdate's /etc/swupdate.cfg)");
}
