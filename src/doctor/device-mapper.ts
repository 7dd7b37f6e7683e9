/**
 * Device-mapper itself (the control node answers the version ioctl) and the
 * targets a snapshot needs. Where something is missing, the kernel's facts
 * tell the fix: a module to load, or a kernel that lacks it.
 */
import type { TargetVersion } from '../dm/abi.js';
import { DeviceMapper } from '../dm/client.js';
import { SnapstoreError } from '../errors.js';
import { LIFECYCLE_TARGETS, targetModule } from '../snapshot/platform.js';
import { fail, ok, warn, type Finding } from './finding.js';
import { moduleState, type KernelFacts } from './kernel.js';

export type DmProbe =
  | { readonly present: true; readonly interfaceVersion: readonly [number, number, number]; readonly targets: readonly TargetVersion[] }
  | { readonly present: false; readonly error: SnapstoreError };

/** Opens device-mapper and lists its targets; the client stays open for the path's checks (the caller closes it). */
export function probeDeviceMapper(): { probe: DmProbe; dm: DeviceMapper | undefined } {
  let dm: DeviceMapper;
  try {
    dm = DeviceMapper.open();
  } catch (err) {
    if (!(err instanceof SnapstoreError)) throw err;
    return { probe: { present: false, error: err }, dm: undefined };
  }
  try {
    return { probe: { present: true, interfaceVersion: dm.interfaceVersion, targets: dm.targetVersions() }, dm };
  } catch (err) {
    dm.close();
    throw err;
  }
}

/** The build option of each module doctor may name. */
const CONFIG_OF: Record<string, string> = { 'dm-mod': 'CONFIG_BLK_DEV_DM', 'dm-snapshot': 'CONFIG_DM_SNAPSHOT' };

const withKernel = (k: KernelFacts) => `this kernel (${k.release})`;

export function checkDeviceMapper(probe: DmProbe, k: KernelFacts): Finding {
  const check = 'device-mapper';
  if (probe.present) return ok(check, `/dev/mapper/control answers: device-mapper ioctl interface ${probe.interfaceVersion.join('.')}`);
  const { error } = probe;
  if (error.code === 'EACCES' || error.code === 'EPERM') return fail(check, error.message, error.hint ?? null);
  switch (moduleState(k, 'dm-mod', CONFIG_OF['dm-mod']!)) {
    case 'absent':
      return fail(check, `${error.message}: ${withKernel(k)} has no device-mapper (CONFIG_BLK_DEV_DM is not set)`, "boot a kernel built with device-mapper (CONFIG_BLK_DEV_DM; Debian's linux-image-amd64 has it as the dm-mod module)");
    case 'loadable':
      return fail(check, `${error.message}: device-mapper is a module of ${withKernel(k)}, dm-mod, and it is not loaded`, 'modprobe dm-mod');
    case 'builtin':
      return fail(check, `${error.message}: ${withKernel(k)} has device-mapper built in, but /dev/mapper/control does not reach it`, 'make the control node: `dmsetup mknodes` (or mount devtmpfs on /dev)');
    case 'unknown':
      return fail(check, `${error.message} (whether ${withKernel(k)} has device-mapper cannot be told: no /boot/config-${k.release}, /proc/config.gz or modules.dep)`, 'modprobe dm-mod; if there is no such module, boot a kernel built with device-mapper (CONFIG_BLK_DEV_DM)');
  }
}

export function checkTargets(probe: DmProbe, k: KernelFacts): Finding {
  const check = 'dm-targets';
  if (!probe.present) return fail(check, `${LIFECYCLE_TARGETS.join(', ')}: not listed, device-mapper could not be opened`, 'see device-mapper');
  const version = new Map(probe.targets.map((t) => [t.name, t.version.join('.')]));
  const loaded = LIFECYCLE_TARGETS.filter((t) => version.has(t)).map((t) => `${t} ${version.get(t)}`);
  const missing = LIFECYCLE_TARGETS.filter((t) => !version.has(t));
  if (missing.length === 0) return ok(check, loaded.join(', '));
  const modules = [...new Set(missing.map(targetModule))];
  const states = modules.map((m) => ({ m, state: moduleState(k, m, CONFIG_OF[m] ?? '') }));
  const said = `${loaded.length ? `${loaded.join(', ')} loaded; ` : ''}${missing.join(', ')} not loaded`;
  const absent = states.filter((s) => s.state === 'absent').map((s) => s.m);
  if (absent.length) {
    return fail(check, `${said}, and ${withKernel(k)} has no ${absent.join(', ')} (${absent.map((m) => CONFIG_OF[m] ?? m).join(', ')} not set)`, `boot a kernel built with ${absent.map((m) => CONFIG_OF[m] ?? m).join(', ')} (Debian's has them as modules)`);
  }
  if (states.some((s) => s.state === 'unknown')) {
    return warn(check, `${said}, and whether ${withKernel(k)} can load ${modules.join(', ')} cannot be told`, `modprobe ${modules.join(' ')}`);
  }
  // snapstore loads them itself before it needs them (Platform.loadTargets), never while a device is suspended.
  return ok(check, `${said}: ${modules.join(', ')} ${modules.length === 1 ? 'is a module' : 'are modules'} of ${withKernel(k)}, which snapstore loads when a command needs ${modules.length === 1 ? 'it' : 'them'} (or now: modprobe ${modules.join(' ')})`);
}
