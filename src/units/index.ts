export * from './units.js';
export type { Range, Mapping } from './range.js';
