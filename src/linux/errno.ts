import { getSystemErrorMap } from 'node:util';

let map: Map<number, [string, string]> | undefined;

function entry(errno: number): [string, string] | undefined {
  map ??= getSystemErrorMap();
  return map.get(-Math.abs(errno));
}

/** EBUSY for 16: the symbolic name of an errno. */
export function errnoCode(errno: number): string {
  return entry(errno)?.[0] ?? `E${errno}`;
}

/** The system's text for an errno, without loading the FFI. */
export function strerror(errno: number): string {
  return entry(errno)?.[1] ?? `errno ${errno}`;
}
