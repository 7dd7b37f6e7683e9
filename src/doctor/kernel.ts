/**
 * What doctor knows of the running kernel: its release, its build
 * configuration, the modules it can load and its command line. Each is read
 * from the usual place and parsed here; the checks take the parsed facts, so
 * they are tested on canned text.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface KernelFacts {
  /** `uname -r` */
  readonly release: string;
  /** the build configuration (CONFIG_X → y, m or a value; an option not set is absent), or undefined when none is readable */
  readonly config: ReadonlyMap<string, string> | undefined;
  /** the modules it can load and those built in, by file name (dm-snapshot), or undefined when modules.dep is not there */
  readonly modules: { readonly loadable: ReadonlySet<string>; readonly builtin: ReadonlySet<string> } | undefined;
  /** /proc/cmdline */
  readonly cmdline: string;
}

/** A .config (`CONFIG_X=y`; `# CONFIG_X is not set` lines leave X out). */
export function parseKernelConfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(CONFIG_\w+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** modules.dep or modules.builtin: the module of each line by file name, `_` read as `-` (as modprobe does). */
export function parseModuleList(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const file = line.split(':')[0]?.trim();
    if (file) out.add(path.basename(file).replace(/\.ko(\.\w+)?$/, '').replaceAll('_', '-'));
  }
  return out;
}

/** The major and minor version of a release string (6.18.44-fc-v595 → [6, 18]). */
export function kernelVersion(release: string): readonly [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Whether a module is in the kernel, can be loaded, is known to be absent, or cannot be told (`option`: its CONFIG_ name). */
export function moduleState(k: KernelFacts, module: string, option: string): 'builtin' | 'loadable' | 'absent' | 'unknown' {
  const set = k.config?.get(option);
  if (set === 'y' || k.modules?.builtin.has(module)) return 'builtin';
  if (set === 'm' || k.modules?.loadable.has(module)) return 'loadable';
  return k.config || k.modules ? 'absent' : 'unknown';
}

const readText = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

/** The running kernel's facts, from /boot/config-RELEASE (else /proc/config.gz), /lib/modules/RELEASE and /proc/cmdline. */
export function readKernelFacts(): KernelFacts {
  const release = os.release();
  let configText = readText(`/boot/config-${release}`);
  if (configText === undefined) {
    try {
      configText = gunzipSync(fs.readFileSync('/proc/config.gz')).toString('utf8');
    } catch {
      // neither is there: the config is unknown
    }
  }
  const dep = readText(`/lib/modules/${release}/modules.dep`);
  return {
    release,
    config: configText === undefined ? undefined : parseKernelConfig(configText),
    modules: dep === undefined ? undefined : { loadable: parseModuleList(dep), builtin: parseModuleList(readText(`/lib/modules/${release}/modules.builtin`) ?? '') },
    cmdline: readText('/proc/cmdline')?.trim() ?? '',
  };
}
