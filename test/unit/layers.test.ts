// The layer rules of docs/design.md, checked on the sources: dependencies
// point down, koffi is imported in one file, nothing imports the CLI.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve('src');
/** Each layer may import only the layers listed (and itself). */
const ALLOWED: Record<string, readonly string[]> = {
  util: [],
  units: ['util'],
  linux: ['units', 'util'],
  fiemap: ['units', 'util', 'linux'],
  blockio: ['units', 'util', 'linux'],
  dm: ['units', 'util', 'linux'],
  state: ['units', 'util', 'linux'],
  cow: ['units', 'util', 'linux', 'blockio'],
  tree: ['units', 'util', 'linux'],
  store: ['units', 'util', 'linux', 'fiemap', 'blockio', 'dm', 'state', 'cow'],
  snapshot: ['units', 'util', 'linux', 'fiemap', 'blockio', 'dm', 'state', 'cow', 'store', 'tree'],
  watch: ['units', 'util', 'linux', 'fiemap', 'blockio', 'dm', 'state', 'cow', 'store', 'tree', 'snapshot'],
  boot: ['util', 'linux', 'state'],
  doctor: ['units', 'util', 'linux', 'fiemap', 'blockio', 'dm', 'state', 'cow', 'store', 'tree', 'snapshot', 'boot'],
  cli: ['units', 'util', 'linux', 'fiemap', 'blockio', 'dm', 'state', 'cow', 'store', 'tree', 'snapshot', 'watch', 'boot', 'doctor'],
};

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.ts')).map((f) => path.join(dir, f));
}

function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)|require\(\s*'([^']+)'\s*\)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
}

/** The layer a source file belongs to: its folder under src/ ('' for src/*.ts, shared by all). */
const layerOf = (file: string): string => path.relative(SRC, file).split(path.sep).slice(0, -1)[0] ?? '';

describe('layers', () => {
  const files = sources(SRC);

  it('every source folder is a known layer', () => {
    for (const f of files) {
      const layer = layerOf(f);
      if (layer !== '') expect(Object.keys(ALLOWED), f).toContain(layer);
    }
  });

  it('each layer imports only the layers below it', () => {
    const wrong: string[] = [];
    for (const f of files) {
      const from = layerOf(f);
      for (const spec of importsOf(f)) {
        if (!spec.startsWith('.')) continue;
        const target = path.resolve(path.dirname(f), spec);
        const to = layerOf(target.replace(/\.js$/, '.ts'));
        if (to === '' || to === from || from === '') continue;
        if (!(ALLOWED[from] ?? []).includes(to)) wrong.push(`${path.relative(SRC, f)} imports ${to} (${spec})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('linux imports no other layer; cow imports neither dm nor store; no layer imports cli', () => {
    expect(ALLOWED['linux']).toEqual(['units', 'util']);
    for (const l of ['dm', 'store']) expect(ALLOWED['cow']).not.toContain(l);
    for (const [layer, allowed] of Object.entries(ALLOWED)) if (layer !== 'cli') expect(allowed).not.toContain('cli');
  });

  it('koffi is imported in exactly one file', () => {
    const users = files.filter((f) => importsOf(f).includes('koffi') || /require\('koffi'\)/.test(fs.readFileSync(f, 'utf8')));
    expect(users.map((f) => path.relative(SRC, f))).toEqual(['linux/libc.ts']);
  });
});
