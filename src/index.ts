/**
 * snapstore as a library: one namespace per layer, lowest first. The CLI
 * (`src/cli`) is a thin layer over these; anything it does, a program can.
 */
export * as units from './units/index.js';
export { SnapstoreError, ERROR_CODES } from './errors.js';
export type { ErrorCode } from './errors.js';
export * as linux from './linux/index.js';
export * as fiemap from './fiemap/index.js';
export * as blockio from './blockio/index.js';
export * as dm from './dm/index.js';
export * as state from './state/index.js';
export * as cow from './cow/index.js';
export * as tree from './tree/index.js';
export * as store from './store/index.js';
export * as snapshot from './snapshot/index.js';
export * as watch from './watch/index.js';
export * as boot from './boot/index.js';
export * as doctor from './doctor/index.js';
