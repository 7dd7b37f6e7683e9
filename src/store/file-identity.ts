import * as fs from 'node:fs';
import { getInodeGeneration } from '../linux/fs.js';

/**
 * Which file this is: inode numbers are reused after a delete, the
 * generation (FS_IOC_GETVERSION) changes when they are.
 */
export interface FileIdentity {
  readonly inode: number;
  readonly generation: number;
}

export function fileIdentity(fd: number, path: string): FileIdentity {
  return { inode: Number(fs.fstatSync(fd, { bigint: true }).ino), generation: getInodeGeneration(fd, path) };
}

export function describeMismatch(path: string, now: FileIdentity, recorded: FileIdentity): string | undefined {
  if (now.inode === recorded.inode && now.generation === recorded.generation) return undefined;
  return `${path} is inode ${now.inode} generation ${now.generation}, the manifest recorded inode ${recorded.inode} generation ${recorded.generation}: it is another file`;
}
