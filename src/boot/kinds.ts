/**
 * The boot systems `snapstore activate` can be run from, and for each: the
 * package's files and where they go, the folder that shows the boot system is
 * installed, the program that takes the files in and what to run in an image.
 */

export const BOOT_KINDS = ['systemd', 'initramfs-tools', 'dracut'] as const;
export type BootKind = (typeof BOOT_KINDS)[number];

export interface BootFile {
  /** in the package */
  readonly source: string;
  /** under the root, without the leading slash */
  readonly target: string;
  readonly mode: number;
}

export interface KindSpec {
  /** This folder under the root exists where the boot system is installed. */
  readonly installedAt: string;
  /** The boot system's program, which the commands run. */
  readonly tool: string;
  readonly files: readonly BootFile[];
  /** What takes the files in on the running system (`systemRunning`: systemd is the running init). */
  commands(systemRunning: boolean): string[][];
  /** What to run for an image under `root`, where nothing is run for it. */
  inImage(root: string): string;
}

const UNIT = 'snapstore-activate.service';
const DRACUT_MODULE = 'usr/lib/dracut/modules.d/90snapstore';

export const KINDS: Record<BootKind, KindSpec> = {
  systemd: {
    installedAt: 'etc/systemd/system',
    tool: 'systemctl',
    files: [{ source: `systemd/${UNIT}`, target: `etc/systemd/system/${UNIT}`, mode: 0o644 }],
    // enable works on the files alone; daemon-reload needs the manager running.
    commands: (systemRunning) => [...(systemRunning ? [['systemctl', 'daemon-reload']] : []), ['systemctl', 'enable', UNIT]],
    inImage: (root) => `systemctl --root ${root} enable ${UNIT}`,
  },
  'initramfs-tools': {
    installedAt: 'etc/initramfs-tools',
    tool: 'update-initramfs',
    files: [
      { source: 'boot/initramfs-tools/hooks/snapstore', target: 'etc/initramfs-tools/hooks/snapstore', mode: 0o755 },
      { source: 'boot/initramfs-tools/scripts/local-bottom/snapstore', target: 'etc/initramfs-tools/scripts/local-bottom/snapstore', mode: 0o755 },
    ],
    // Every kernel's: an older kernel booted after a failed update must activate too.
    commands: () => [['update-initramfs', '-u', '-k', 'all']],
    inImage: (root) => `chroot ${root} update-initramfs -u -k all`,
  },
  dracut: {
    installedAt: 'usr/lib/dracut/modules.d',
    tool: 'dracut',
    files: [
      { source: 'boot/dracut/90snapstore/module-setup.sh', target: `${DRACUT_MODULE}/module-setup.sh`, mode: 0o755 },
      { source: 'boot/dracut/90snapstore/snapstore-pre-pivot.sh', target: `${DRACUT_MODULE}/snapstore-pre-pivot.sh`, mode: 0o755 },
    ],
    commands: () => [['dracut', '-f', '--regenerate-all']],
    inImage: (root) => `chroot ${root} dracut -f --regenerate-all`,
  },
};
