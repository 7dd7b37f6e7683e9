#!/usr/bin/env node
'use strict';
// node boot/image-files.cjs [PACKAGE_DIR]: the files of an installed snapstore that an
// initramfs needs to run `snapstore activate`, one a line, relative to the package (by
// default the one this file is in). The initramfs-tools hook and the dracut module copy
// them to /usr/lib/snapstore in the image.
//
// That is package.json (read for --version), bin/, the CLI bundle (dist/cli-bundle,
// without source maps), the boot helper, and the package's production dependencies:
// `dependencies` and the `optionalDependencies` present (koffi's native build for this
// platform is one), followed as Node resolves them. Never what a clone has besides (dev
// dependencies, tests, sources, .cache): `npm link` makes the clone the installed package.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(process.argv[2] ?? path.join(__dirname, '..'));

function fail(message, hint) {
  process.stderr.write(`snapstore: ${message}\n  way out: ${hint}\n`);
  process.exit(1);
}

/** Every regular file below `dir` (relative to root), not descending into `skip` folders. */
function filesBelow(dir, skip = () => false) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      if (!skip(e.name)) out.push(...filesBelow(p, skip));
    } else if (st.isFile()) out.push(path.relative(root, p));
  }
  return out;
}

const readJson = (p) => JSON.parse(fs.readFileSync(p, 'utf8'));

/** The folder of dependency `name` as Node finds it from `from`, looking no higher than the package. */
function resolveDependency(from, name) {
  for (let d = from; ; d = path.dirname(d)) {
    const candidate = path.join(d, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (d === root) return undefined;
  }
}

const manifest = path.join(root, 'package.json');
if (!fs.existsSync(manifest) || readJson(manifest).name !== 'snapstore') {
  fail(`${root} is not a snapstore package (no package.json naming snapstore)`, 'give the folder snapstore is installed in (the one with bin/snapstore)');
}
if (!fs.existsSync(path.join(root, 'dist/cli-bundle/main.js'))) {
  fail(`the snapstore in ${root} is not built (dist/cli-bundle/main.js is missing)`, `run \`npm run build\` (or \`bash scripts/setup\`) in ${root}`);
}

const files = ['package.json', 'boot/snapstore-boot-activate', ...filesBelow(path.join(root, 'bin')), ...filesBelow(path.join(root, 'dist/cli-bundle')).filter((f) => !f.endsWith('.map'))];
const seen = new Set();
const pending = [root];
while (pending.length) {
  const dir = pending.pop();
  const pkg = readJson(path.join(dir, 'package.json'));
  const optional = new Set(Object.keys(pkg.optionalDependencies ?? {}));
  for (const name of new Set([...Object.keys(pkg.dependencies ?? {}), ...optional])) {
    const found = resolveDependency(dir, name);
    if (!found) {
      if (optional.has(name)) continue;
      fail(`${name}, a dependency of ${pkg.name}, is not installed under ${root}`, `run \`npm install\` in ${root}`);
    }
    if (seen.has(found)) continue;
    seen.add(found);
    pending.push(found);
    // Its own node_modules holds dependencies: those are followed as dependencies.
    files.push(...filesBelow(found, (folder) => folder === 'node_modules'));
  }
}
process.stdout.write(`${[...new Set(files)].sort().join('\n')}\n`);
