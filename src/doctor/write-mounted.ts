/**
 * Raw writes to a mounted block device. From 6.8 a kernel built without
 * CONFIG_BLK_DEV_WRITE_MOUNTED refuses to open a device with a mounted
 * filesystem for writing (EBUSY), and the boot parameter
 * bdev_allow_write_mounted= overrides the build either way (block/bdev.c).
 * `store create` proves a store's map by writing signatures and zeroing its
 * header on the filesystem's own device node (store/proof.ts): there it is
 * refused (RAW_DEVICE_DENIED). docs/design.md "Raw writes to a mounted device".
 */
import { fail, ok, warn, type Finding } from './finding.js';
import { kernelVersion, type KernelFacts } from './kernel.js';

const CHECK = 'kernel-write-mounted';

/** The bdev_allow_write_mounted= boot parameter, read as the kernel's kstrtobool does, or undefined when it is not given. */
export function allowWriteMountedParam(cmdline: string): boolean | undefined {
  let value: boolean | undefined;
  for (const word of cmdline.split(/\s+/)) {
    if (!word.startsWith('bdev_allow_write_mounted=')) continue;
    const v = word.slice('bdev_allow_write_mounted='.length).toLowerCase();
    if (/^(1|y|t|on)/.test(v)) value = true;
    else if (/^(0|n|f|off)/.test(v)) value = false;
  }
  return value;
}

export function checkWriteMounted(k: KernelFacts): Finding {
  const v = kernelVersion(k.release);
  if (v && (v[0] < 6 || (v[0] === 6 && v[1] < 8))) return ok(CHECK, `kernel ${k.release}: writes to a mounted block device are allowed (kernels before 6.8 cannot refuse them), as the store's proof needs`);
  const param = allowWriteMountedParam(k.cmdline);
  const built = k.config?.get('CONFIG_BLK_DEV_WRITE_MOUNTED');
  const refused = `kernel ${k.release} refuses writes to a block device whose filesystem is mounted`;
  const consequence = "`store create` (and `create`, `extend`) prove a store's map by writing the filesystem's own device and are refused there (RAW_DEVICE_DENIED): snapstore has no way around it yet (a dm linear over the store's pieces beneath the filesystem would be one)";
  const fix = 'boot with `bdev_allow_write_mounted=1` on the kernel command line, or a kernel built with CONFIG_BLK_DEV_WRITE_MOUNTED=y';
  if (param === false) return fail(CHECK, `${refused} (bdev_allow_write_mounted=0 on its command line): ${consequence}`, 'take `bdev_allow_write_mounted=0` off the kernel command line');
  if (param === true) return ok(CHECK, `kernel ${k.release}: writes to a mounted block device are allowed by bdev_allow_write_mounted=1 on its command line`);
  if (built === 'y') return ok(CHECK, `kernel ${k.release}: writes to a mounted block device are allowed (CONFIG_BLK_DEV_WRITE_MOUNTED=y)`);
  if (k.config) return fail(CHECK, `${refused} (built without CONFIG_BLK_DEV_WRITE_MOUNTED): ${consequence}`, fix);
  return warn(CHECK, `kernel ${k.release} (6.8 or later) may refuse writes to a block device whose filesystem is mounted, and its build configuration cannot be read (no /boot/config-${k.release} or /proc/config.gz): if it does, ${consequence}`, `check: grep BLK_DEV_WRITE_MOUNTED /boot/config-$(uname -r); if it is not set, ${fix}`);
}
