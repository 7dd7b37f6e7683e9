// doctor's machine checks on canned facts: the kernel's configuration,
// module lists and command line parsed; root; device-mapper present, refused
// without root, absent with each fix (a kernel without it, a module to load,
// a missing node, nothing known); the lifecycle's targets loaded, loadable,
// absent or unknown; raw writes to a mounted device by kernel version, build
// and boot parameter; the boot integration as bootInstalled reports it.
import { describe, expect, it } from 'vitest';
import { dmError } from '../../src/dm/errors.js';
import { checkBootIntegration } from '../../src/doctor/boot-integration.js';
import { checkDeviceMapper, checkTargets, type DmProbe } from '../../src/doctor/device-mapper.js';
import { kernelVersion, moduleState, parseKernelConfig, parseModuleList, type KernelFacts } from '../../src/doctor/kernel.js';
import { checkRoot } from '../../src/doctor/root.js';
import { allowWriteMountedParam, checkWriteMounted } from '../../src/doctor/write-mounted.js';
import { ERRNO } from '../../src/linux/errno.js';
import { LINUX_61_TARGETS } from '../support/fake-dm.js';

const CONFIG = `#
# Automatically generated file; DO NOT EDIT.
CONFIG_MD=y
CONFIG_BLK_DEV_DM=m
CONFIG_DM_SNAPSHOT=m
# CONFIG_DM_THIN_PROVISIONING is not set
CONFIG_BLK_DEV_WRITE_MOUNTED=y
CONFIG_LOCALVERSION=""
`;
const MODULES_DEP = `kernel/drivers/md/dm-mod.ko.xz:
kernel/drivers/md/dm-snapshot.ko.xz: kernel/drivers/md/dm-bufio.ko.xz kernel/drivers/md/dm-mod.ko.xz
kernel/drivers/md/dm_crypt.ko:
`;

const facts = (over: Partial<KernelFacts> = {}): KernelFacts => ({ release: '6.1.0-57-amd64', config: parseKernelConfig(CONFIG), modules: undefined, cmdline: 'BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro quiet', ...over });
const without = (option: string) => parseKernelConfig(CONFIG.split('\n').filter((l) => !l.startsWith(`${option}=`)).join('\n'));
const absent = (errno: number): DmProbe => ({ present: false, error: dmError('open', '/dev/mapper/control', errno) });
const present = (targets = LINUX_61_TARGETS): DmProbe => ({ present: true, interfaceVersion: [4, 47, 0], targets });

describe('the kernel facts', () => {
  it('a .config: set options with their values; "is not set" and comments leave them out', () => {
    const c = parseKernelConfig(CONFIG);
    expect(c.get('CONFIG_BLK_DEV_DM')).toBe('m');
    expect(c.get('CONFIG_LOCALVERSION')).toBe('""');
    expect(c.has('CONFIG_DM_THIN_PROVISIONING')).toBe(false);
  });

  it('modules.dep and modules.builtin: each line\'s module by file name, compressed or not, "_" read as "-"', () => {
    expect([...parseModuleList(MODULES_DEP)]).toEqual(['dm-mod', 'dm-snapshot', 'dm-crypt']);
    expect([...parseModuleList('kernel/drivers/md/dm-mod.ko\n')]).toEqual(['dm-mod']);
  });

  it('the version of a release string', () => {
    expect(kernelVersion('6.18.44-fc-v595')).toEqual([6, 18]);
    expect(kernelVersion('5.10.0-cip')).toEqual([5, 10]);
    expect(kernelVersion('weird')).toBeUndefined();
  });

  it('a module is built in, loadable, absent (the config or the module lists say so) or unknown', () => {
    expect(moduleState(facts(), 'dm-mod', 'CONFIG_BLK_DEV_DM')).toBe('loadable');
    expect(moduleState(facts({ config: parseKernelConfig('CONFIG_BLK_DEV_DM=y\n') }), 'dm-mod', 'CONFIG_BLK_DEV_DM')).toBe('builtin');
    expect(moduleState(facts({ config: undefined, modules: { loadable: new Set(), builtin: new Set(['dm-mod']) } }), 'dm-mod', 'CONFIG_BLK_DEV_DM')).toBe('builtin');
    expect(moduleState(facts({ config: undefined, modules: { loadable: parseModuleList(MODULES_DEP), builtin: new Set() } }), 'dm-snapshot', 'CONFIG_DM_SNAPSHOT')).toBe('loadable');
    expect(moduleState(facts({ config: without('CONFIG_DM_SNAPSHOT') }), 'dm-snapshot', 'CONFIG_DM_SNAPSHOT')).toBe('absent');
    expect(moduleState(facts({ config: undefined }), 'dm-snapshot', 'CONFIG_DM_SNAPSHOT')).toBe('unknown');
  });
});

describe('root', () => {
  it('root is ok; another uid fails, saying why the commands need root', () => {
    expect(checkRoot(0)).toEqual({ check: 'root', status: 'ok', message: 'running as root', fix: null });
    const f = checkRoot(1000);
    expect(f.status).toBe('fail');
    expect(f.message).toMatch(/^running as uid 1000: snapstore drives device-mapper/);
    expect(f.fix).toBe('run it as root: sudo snapstore ...');
  });
});

describe('device-mapper', () => {
  it('present: the ioctl interface version', () => {
    expect(checkDeviceMapper(present(), facts())).toEqual({ check: 'device-mapper', status: 'ok', message: '/dev/mapper/control answers: device-mapper ioctl interface 4.47.0', fix: null });
  });

  it('refused for want of root: the client\'s own message and hint', () => {
    const f = checkDeviceMapper(absent(ERRNO.EACCES), facts());
    expect(f).toMatchObject({ status: 'fail', fix: 'device-mapper needs root (CAP_SYS_ADMIN): run as root' });
    expect(f.message).toMatch(/device-mapper refused/);
  });

  it('a kernel built without it (this machine\'s case): says so, and that only another kernel helps', () => {
    const f = checkDeviceMapper(absent(ERRNO.ENODEV), facts({ release: '6.18.44-fc-v595', config: parseKernelConfig('# CONFIG_MD is not set\n') }));
    expect(f.status).toBe('fail');
    expect(f.message).toBe('device-mapper is not available: /dev/mapper/control: no such device (ENODEV): this kernel (6.18.44-fc-v595) has no device-mapper (CONFIG_BLK_DEV_DM is not set)');
    expect(f.fix).toBe("boot a kernel built with device-mapper (CONFIG_BLK_DEV_DM; Debian's linux-image-amd64 has it as the dm-mod module)");
  });

  it('a module not loaded: modprobe dm-mod', () => {
    const f = checkDeviceMapper(absent(ERRNO.ENOENT), facts());
    expect(f.message).toMatch(/: device-mapper is a module of this kernel \(6\.1\.0-57-amd64\), dm-mod, and it is not loaded$/);
    expect(f.fix).toBe('modprobe dm-mod');
  });

  it('built in, but no control node: make it', () => {
    const f = checkDeviceMapper(absent(ERRNO.ENOENT), facts({ config: parseKernelConfig('CONFIG_BLK_DEV_DM=y\n') }));
    expect(f.message).toMatch(/has device-mapper built in, but \/dev\/mapper\/control does not reach it$/);
    expect(f.fix).toMatch(/^make the control node: `dmsetup mknodes`/);
  });

  it('nothing known of the kernel: modprobe, else another kernel', () => {
    const f = checkDeviceMapper(absent(ERRNO.ENOENT), facts({ config: undefined }));
    expect(f.message).toMatch(/cannot be told: no \/boot\/config-6\.1\.0-57-amd64, \/proc\/config\.gz or modules\.dep\)$/);
    expect(f.fix).toBe('modprobe dm-mod; if there is no such module, boot a kernel built with device-mapper (CONFIG_BLK_DEV_DM)');
  });
});

describe('dm-targets', () => {
  const only = (...names: string[]) => present(LINUX_61_TARGETS.filter((t) => names.includes(t.name)));

  it('all four loaded: their versions', () => {
    expect(checkTargets(present(), facts())).toEqual({ check: 'dm-targets', status: 'ok', message: 'linear 1.4.0, snapshot 1.16.0, snapshot-origin 1.9.0, snapshot-merge 1.5.0', fix: null });
  });

  it('the snapshot targets not loaded but dm-snapshot a module: fine, snapstore loads it', () => {
    const f = checkTargets(only('linear'), facts());
    expect(f.status).toBe('ok');
    expect(f.message).toBe('linear 1.4.0 loaded; snapshot, snapshot-origin, snapshot-merge not loaded: dm-snapshot is a module of this kernel (6.1.0-57-amd64), which snapstore loads when a command needs it (or now: modprobe dm-snapshot)');
  });

  it('not loaded and the kernel has no dm-snapshot: fails, naming the option', () => {
    const f = checkTargets(only('linear'), facts({ config: without('CONFIG_DM_SNAPSHOT') }));
    expect(f).toMatchObject({ status: 'fail', fix: "boot a kernel built with CONFIG_DM_SNAPSHOT (Debian's has them as modules)" });
    expect(f.message).toMatch(/not loaded, and this kernel \(6\.1\.0-57-amd64\) has no dm-snapshot \(CONFIG_DM_SNAPSHOT not set\)$/);
  });

  it('not loaded and nothing known of the kernel: modprobe dm-snapshot', () => {
    expect(checkTargets(only('linear'), facts({ config: undefined }))).toMatchObject({ status: 'warn', fix: 'modprobe dm-snapshot' });
  });

  it('without device-mapper nothing is listed', () => {
    expect(checkTargets(absent(ERRNO.ENODEV), facts())).toEqual({ check: 'dm-targets', status: 'fail', message: 'linear, snapshot, snapshot-origin, snapshot-merge: not listed, device-mapper could not be opened', fix: 'see device-mapper' });
  });
});

describe('kernel-write-mounted', () => {
  it('before 6.8 nothing refuses the raw writes', () => {
    expect(checkWriteMounted(facts({ config: undefined })).status).toBe('ok');
  });

  it('6.8 and later: the build decides, and the boot parameter overrides it either way', () => {
    const k = (config: string, cmdline = 'root=/dev/vda ro') => facts({ release: '6.12.9-amd64', config: parseKernelConfig(config), cmdline });
    expect(checkWriteMounted(k('CONFIG_BLK_DEV_WRITE_MOUNTED=y\n'))).toMatchObject({ status: 'ok', message: 'kernel 6.12.9-amd64: writes to a mounted block device are allowed (CONFIG_BLK_DEV_WRITE_MOUNTED=y)' });
    const refused = checkWriteMounted(k('# CONFIG_BLK_DEV_WRITE_MOUNTED is not set\n'));
    expect(refused.status).toBe('fail');
    expect(refused.message).toMatch(/^kernel 6\.12\.9-amd64 refuses writes to a block device whose filesystem is mounted \(built without CONFIG_BLK_DEV_WRITE_MOUNTED\): `store create` .* are refused there \(RAW_DEVICE_DENIED\)/);
    expect(refused.fix).toBe('boot with `bdev_allow_write_mounted=1` on the kernel command line, or a kernel built with CONFIG_BLK_DEV_WRITE_MOUNTED=y');
    expect(checkWriteMounted(k('', 'quiet bdev_allow_write_mounted=1')).status).toBe('ok');
    expect(checkWriteMounted(k('CONFIG_BLK_DEV_WRITE_MOUNTED=y\n', 'bdev_allow_write_mounted=0 lockdown=integrity'))).toMatchObject({ status: 'fail', fix: 'take `bdev_allow_write_mounted=0` off the kernel command line' });
  });

  it('6.8 and later with no readable configuration: cannot tell, says how to look', () => {
    const f = checkWriteMounted(facts({ release: '6.8.0-31-generic', config: undefined }));
    expect(f.status).toBe('warn');
    expect(f.fix).toMatch(/^check: grep BLK_DEV_WRITE_MOUNTED \/boot\/config-\$\(uname -r\)/);
  });

  it('the boot parameter is read as kstrtobool reads it; the last one given counts', () => {
    expect(allowWriteMountedParam('quiet')).toBeUndefined();
    expect(allowWriteMountedParam('bdev_allow_write_mounted=Y')).toBe(true);
    expect(allowWriteMountedParam('bdev_allow_write_mounted=off')).toBe(false);
    expect(allowWriteMountedParam('bdev_allow_write_mounted=0 bdev_allow_write_mounted=on')).toBe(true);
  });
});

describe('boot-integration', () => {
  const none = { present: [], missing: ['/x'] };
  it('nothing installed: activate does not run at boot; install-boot', () => {
    const f = checkBootIntegration([{ kind: 'systemd', ...none }, { kind: 'initramfs-tools', ...none }, { kind: 'dracut', ...none }]);
    expect(f).toMatchObject({ status: 'warn', fix: 'snapstore install-boot (systemd), or with --initramfs-tools or --dracut' });
    expect(f.message).toMatch(/^no boot integration is installed: after a reboot nothing runs `snapstore activate`/);
  });

  it('the unit enabled: ok; disabled or masked: the systemctl that fixes it', () => {
    const unit = (state: 'enabled' | 'disabled' | 'masked') => checkBootIntegration([{ kind: 'systemd', present: ['/etc/systemd/system/snapstore-activate.service'], missing: [], unit: state }, { kind: 'dracut', ...none }]);
    expect(unit('enabled')).toEqual({ check: 'boot-integration', status: 'ok', message: 'activate runs at boot from systemd (snapstore-activate.service)', fix: null });
    expect(unit('disabled')).toMatchObject({ status: 'warn', message: 'snapstore-activate.service is installed but not enabled: activate does not run at boot', fix: 'systemctl enable snapstore-activate.service' });
    expect(unit('masked')).toMatchObject({ status: 'warn', fix: 'systemctl unmask snapstore-activate.service && systemctl enable snapstore-activate.service' });
  });

  it('an initramfs kind in part: which file is missing, and install-boot for that kind', () => {
    const f = checkBootIntegration([
      { kind: 'systemd', present: ['/u'], missing: [], unit: 'enabled' },
      { kind: 'initramfs-tools', present: ['/etc/initramfs-tools/hooks/snapstore'], missing: ['/etc/initramfs-tools/scripts/local-bottom/snapstore'] },
    ]);
    expect(f.status).toBe('warn');
    expect(f.message).toBe('initramfs-tools is installed in part: /etc/initramfs-tools/scripts/local-bottom/snapstore is missing; activate runs at boot from systemd (snapstore-activate.service)');
    expect(f.fix).toBe('snapstore install-boot --initramfs-tools');
  });
});
