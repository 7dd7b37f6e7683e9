/**
 * The dm-snapshot persistent exception store, offline: read, validate, write,
 * merge, export, inspect. See README.md here.
 */
export type { CowException, CowTable } from './exception-table.js';
export { readTable, checkAgainstOrigin } from './exception-table.js';
export { CowWriter } from './writer.js';
export type { MergeOptions, MergeOutcome, MergeProgress, MergeSummary } from './merge.js';
export { mergeOffline } from './merge.js';
export type { ExportSummary } from './export.js';
export { exportView } from './export.js';
export type { StoreReport } from './inspect.js';
export { inspectStore } from './inspect.js';
