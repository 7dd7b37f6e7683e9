// The reboot check's data, the same in both boots and on the host: sha256(seed:i) blocks.
import { createHash } from 'node:crypto';

export const PATTERN_OFFSET = 1024 * 1024;
export const PATTERN_LENGTH = 4 * 1024 * 1024;

export function pattern(seed: string, length = PATTERN_LENGTH): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i * 32 < length; i++) createHash('sha256').update(`${seed}:${i}`).digest().copy(out, i * 32);
  return out;
}
