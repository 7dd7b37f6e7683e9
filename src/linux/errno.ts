/**
 * errno values by name (the platform's own table, os.constants.errno) and
 * their names and texts, without loading the FFI.
 */
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import type { ErrnoName } from '../errors.js';

export const ERRNO = constants.errno;

let map: Map<number, [string, string]> | undefined;

function entry(errno: number): [string, string] | undefined {
  map ??= getSystemErrorMap();
  return map.get(-Math.abs(errno));
}

/** EBUSY for 16: the symbolic name of an errno. */
export function errnoCode(errno: number): ErrnoName {
  return (entry(errno)?.[0] ?? `E${errno}`) as ErrnoName;
}

/** The system's text for an errno. */
export function strerror(errno: number): string {
  return entry(errno)?.[1] ?? `errno ${errno}`;
}
