export * from './units.js';
export * from './size-spec.js';
export type { Range, Mapping } from './range.js';
