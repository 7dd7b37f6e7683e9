export * from './errors.js';
export * from './errno.js';
export * from './ioctl.js';
export * from './fs.js';
export * from './device-number.js';
export * from './blockdev.js';
export * from './direct-io.js';
