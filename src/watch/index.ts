/**
 * The usage watcher: live snapshots' stores grown ahead of their writers,
 * and the on-full policy when one cannot grow. See README.md here.
 */
export type { OnFull, PerStore, WatchEvent, WatchEventKind, WatchOptions, WatchSummary } from './watcher.js';
export { watchSnapshots, DEFAULT_ON_FULL } from './watcher.js';
export type { Decision, Limits, Sample } from './plan.js';
export { decide, mustAct, WARN_AT } from './plan.js';
export { FillRate } from './rate.js';
