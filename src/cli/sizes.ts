/**
 * Size options that may hold a share (`10%`, `200%USED`, a range with one):
 * measured on the filesystem holding the store, in whole chunks of it. The
 * text is parsed at once (a typo is refused before anything is read); the
 * filesystem is read only when a share asks for it. The library keeps
 * taking bytes.
 */
import * as path from 'node:path';
import { isErrno } from '../linux/errors.js';
import { statfsUsage } from '../linux/fs.js';
import { readSnapshot } from '../snapshot/manifest.js';
import { StateDir } from '../state/state-dir.js';
import { readManifest, type StoreManifest } from '../store/manifest.js';
import { needsFilesystem, parseSizeSpec, resolveSize } from '../units/size-spec.js';
import { UnitError, type Bytes, type ChunkSize } from '../units/units.js';

/** Where shares are measured and what they are rounded to: a store file (or the folder it will be made in) and its chunk size. */
export interface SizePlace {
  readonly file: string;
  readonly chunkSize: Bytes;
}

/** An option's size: bytes already, or bytes once the store's place is known (it holds a share). */
export type SizeOption = Bytes | ((place: SizePlace) => Bytes);

export function sizeOption(option: string, text: string): SizeOption {
  const spec = parseSizeSpec(text, option);
  if (!needsFilesystem(spec)) return resolveSize(spec, undefined, { what: option });
  return (place) => {
    let usage;
    try {
      usage = statfsUsage(place.file);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      throw new UnitError(`${option} "${text}" is a share of the filesystem holding ${place.file}, which is not there (yet) to measure`, {
        hint: `make ${place.file} (or mount its filesystem) first, or give a plain size such as 2G`,
        usage: true,
      });
    }
    return resolveSize(spec, usage, { what: option, align: place.chunkSize });
  };
}

/** The option's bytes now; `place` is asked for only when a share needs it. */
export function resolveOption(option: string, text: string, place: () => SizePlace): Bytes {
  const size = sizeOption(option, text);
  return typeof size === 'function' ? size(place()) : size;
}

/** `--size` of a store to be made at `file`: a share is of the filesystem of the folder it will be made in. */
export function newStoreSize(text: string, file: string, chunk: ChunkSize): Bytes {
  return resolveOption('--size', text, () => ({ file: path.dirname(path.resolve(file)), chunkSize: chunk.bytes }));
}

/** The store of snapshot `name` (its file and chunk size: a SizePlace), from the manifests; read only, no lock. */
export function snapshotStore(stateDir: string, name: string): StoreManifest {
  const dir = StateDir.need(stateDir);
  return readManifest(dir, readSnapshot(dir, name).store);
}
