/**
 * filefrag as an independent oracle: its extents, and the linear table one
 * derives from them by hand (coalesce, align to the chunk, number the store).
 */
import { execa } from 'execa';

export interface FilefragExtent {
  logical: number;
  physical: number;
  length: number;
}

/** Parses `filefrag -v -b512` (offsets and lengths in 512-byte units). */
export async function filefragExtents(file: string): Promise<FilefragExtent[]> {
  const { stdout } = await execa('filefrag', ['-v', '-b512', file]);
  const out: FilefragExtent[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\s*\d+:\s+(\d+)\.\.\s*(\d+):\s+(\d+)\.\.\s*(\d+):\s+(\d+):/.exec(line);
    if (m) out.push({ logical: Number(m[1]), physical: Number(m[3]), length: Number(m[5]) });
  }
  return out;
}

export function tableFromFilefrag(extents: FilefragExtent[], devNumber: string, chunkSectors: number): string[] {
  const merged: FilefragExtent[] = [];
  for (const e of extents) {
    const p = merged[merged.length - 1];
    if (p && p.logical + p.length === e.logical && p.physical + p.length === e.physical) p.length += e.length;
    else merged.push({ ...e });
  }
  const lines: string[] = [];
  let start = 0;
  for (const e of merged) {
    const head = (chunkSectors - (e.physical % chunkSectors)) % chunkSectors;
    const len = Math.max(0, e.length - head);
    const usable = len - (len % chunkSectors);
    if (usable <= 0) continue;
    lines.push(`${start} ${usable} linear ${devNumber} ${e.physical + head}`);
    start += usable;
  }
  return lines;
}
