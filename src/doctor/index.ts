/**
 * `doctor`: what snapstore needs of the machine, and of the filesystem a
 * checkpoint or an update would use, checked; each finding with its fix.
 * See README.md here.
 */
export type { Finding, FindingStatus } from './finding.js';
export type { DoctorOptions } from './doctor.js';
export { doctor } from './doctor.js';
