/** Whether snapstore runs as root: every command that keeps state or drives device-mapper needs it. */
import { fail, ok, type Finding } from './finding.js';

export function checkRoot(euid: number): Finding {
  if (euid === 0) return ok('root', 'running as root');
  return fail(
    'root',
    `running as uid ${euid}: snapstore drives device-mapper, reads and writes devices raw and keeps root-owned state, so its commands refuse (NOT_ROOT), and the checks below that need root say so`,
    'run it as root: sudo snapstore ...',
  );
}
