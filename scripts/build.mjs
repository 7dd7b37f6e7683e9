// Builds snapstore: the library with tsc into dist/ (what package.json's main and types
// point at), then the CLI bundled by esbuild into dist/cli-bundle/ (what bin/snapstore
// loads). Usage: node scripts/build.mjs   (npm run build; bash scripts/setup runs it when
// something it reads changed, as dist/.build-stamp tells).
//
// Why a bundle: each ES module file costs Node a resolve, a read and a compile, and
// `store list` from tsc's output loads about 60 of ours and 150 of execa's. esbuild joins
// them: main.js (commander and the program), one chunk per command (the lazy
// import(`./commands/${module}.js`) in src/cli/program.ts, bundled as a glob) and chunks
// shared between commands, so that every module still exists once (an error class is
// the same class in every chunk). koffi (a native addon) and cli-progress stay in
// node_modules, required lazily through createRequire where they are used.
//
// The bundle is made from tsc's output, not from src/: esbuild matches that glob against
// files on disk, and only dist/ has the `./commands/*.js` it names. esbuild follows tsc's
// source maps, so the bundle's maps point into src/.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const out = path.join(dist, 'cli-bundle');
const stamp = path.join(dist, '.build-stamp');
/** Packages loaded from node_modules at run time, never bundled. */
const EXTERNAL = ['koffi', 'cli-progress'];
const started = new Date();
const rel = (p) => path.relative(root, p);

// 1. The library: tsc into dist/ (type-checks too).
execFileSync(path.join(root, 'node_modules/.bin/tsc'), ['-p', path.join(root, 'tsconfig.json')], { stdio: 'inherit' });

// tsc never deletes: drop what it made from a source that is gone (a command removed
// from src/cli/commands would otherwise stay in the bundle's glob).
const pruned = [];
(function prune(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (p !== out) prune(p);
      continue;
    }
    const m = /^(.*)\.(js|js\.map|d\.ts|d\.ts\.map)$/.exec(e.name);
    if (!m) continue;
    const src = path.join(root, 'src', path.relative(dist, dir), `${m[1]}.ts`);
    if (!fs.existsSync(src)) {
      fs.rmSync(p);
      pruned.push(rel(p));
    }
  }
})(dist);
if (pruned.length) console.error(`build: removed from dist/ what tsc made of deleted sources: ${pruned.join(', ')}`);

// 2. The CLI bundle, written beside the old one and then swapped in, main.js last, so
// that a CLI started meanwhile finds a whole bundle, old or new.
const result = await esbuild.build({
  entryPoints: [path.join(dist, 'cli/main.js')],
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: true,
  metafile: true,
  write: false,
  logLevel: 'warning',
  // Bundled CommonJS (commander, execa's dependencies) calls require() for Node's own
  // modules: an ES module has no require, so each chunk makes one.
  banner: { js: "import { createRequire as __snapstoreCreateRequire } from 'node:module'; const require = __snapstoreCreateRequire(import.meta.url);" },
});
if (result.warnings.length) throw new Error(`build: esbuild warned (see above); the bundle is not trusted`);

// The bundle is what it should be, or the build fails:
const outputs = result.metafile.outputs;
const key = (p) => path.relative(process.cwd(), p);
const commandsDir = path.join(dist, 'cli/commands');
for (const f of fs.readdirSync(commandsDir).filter((f) => f.endsWith('.js'))) {
  // one chunk per command, its own entry point (a dynamic import)
  const chunk = Object.entries(outputs).find(([, o]) => o.entryPoint && path.resolve(o.entryPoint) === path.join(commandsDir, f));
  if (!chunk) throw new Error(`build: no chunk of its own for the command ${rel(path.join(commandsDir, f))}`);
}
for (const [file, o] of Object.entries(outputs)) {
  for (const i of o.imports) {
    // the externals are never imported (they are required lazily where they are used) ...
    if (EXTERNAL.some((x) => i.path === x || i.path.startsWith(`${x}/`))) throw new Error(`build: ${file} imports ${i.path}: it must stay a lazy require`);
    // ... and nothing else is left to node_modules
    if (i.external && !i.path.startsWith('node:') && !builtinModules.includes(i.path)) throw new Error(`build: ${file} leaves ${i.path} to be loaded at run time: bundle it or add it to EXTERNAL`);
  }
  for (const input of Object.keys(o.inputs)) {
    if (EXTERNAL.some((x) => input.includes(`node_modules/${x}/`))) throw new Error(`build: ${file} bundles ${input}`);
  }
}

const tmp = `${out}.tmp-${process.pid}`;
fs.rmSync(tmp, { recursive: true, force: true });
const written = [];
for (const f of result.outputFiles) {
  const dest = path.join(tmp, path.relative(out, f.path));
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.writeFileSync(dest, f.contents);
  written.push(path.relative(out, f.path));
}
// Chunk names carry a hash of their content: new ones never overwrite old ones in use.
const mains = new Set(['main.js', 'main.js.map']);
for (const f of [...written.filter((f) => !mains.has(f)), ...written.filter((f) => mains.has(f))]) {
  fs.mkdirSync(path.dirname(path.join(out, f)), { recursive: true });
  fs.renameSync(path.join(tmp, f), path.join(out, f));
}
fs.rmSync(tmp, { recursive: true, force: true });
const keep = new Set(written);
(function clean(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) clean(p);
    else if (!keep.has(path.relative(out, p))) fs.rmSync(p);
  }
})(out);

// What `store list` loads before it runs: main.js and its chunk, with their static imports.
const eager = new Set();
const visit = (file) => {
  if (eager.has(file)) return;
  eager.add(file);
  for (const i of outputs[file].imports) if (i.kind === 'import-statement' && !i.external) visit(i.path);
};
visit(key(path.join(out, 'main.js')));
const listChunk = Object.keys(outputs).find((f) => outputs[f].entryPoint && path.resolve(outputs[f].entryPoint) === path.join(commandsDir, 'store-list.js'));
if (listChunk) visit(listChunk);
const kb = (n) => `${Math.round(n / 1024)} KiB`;
const js = Object.keys(outputs).filter((f) => f.endsWith('.js'));
console.error(
  `build: ${rel(out)}: ${js.length} files, ${kb(js.reduce((a, f) => a + outputs[f].bytes, 0))}; ` +
    `\`store list\` loads ${eager.size} of them, ${kb([...eager].reduce((a, f) => a + outputs[f].bytes, 0))}`,
);

// Stamped with the time the build started: a source changed during the build is newer.
fs.writeFileSync(stamp, `built ${started.toISOString()} by scripts/build.mjs\n`);
fs.utimesSync(stamp, started, started);
