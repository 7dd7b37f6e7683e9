/**
 * The boot integration: `snapstore activate` run at boot, installed from the
 * package's own files. See README.md here.
 */
export type { BootFile, BootKind, KindSpec } from './kinds.js';
export { BOOT_KINDS, KINDS } from './kinds.js';
export type { InstallBootOptions, InstallBootResult, InstalledFile } from './install.js';
export { BOOT_PATH, installBoot } from './install.js';
export { checkStateDirOnRoot } from './install.js';
export type { InstalledKind } from './installed.js';
export { bootInstalled } from './installed.js';
