/**
 * Block I/O behind one interface: in memory, fault-injecting, a file or
 * block device (buffered or O_DIRECT), and a store read through its map.
 */
export type { BlockIo } from './block-io.js';
export { checkRange } from './block-io.js';
export { MemoryIo } from './memory-io.js';
export type { IoOp } from './faulty-io.js';
export { FaultyIo } from './faulty-io.js';
export { FileIo } from './file-io.js';
export { MappedIo } from './mapped-io.js';
