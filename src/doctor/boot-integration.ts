/**
 * Whether `snapstore activate` runs at boot: what install-boot installed
 * (boot/installed.ts, from the files), whole and, for systemd, enabled.
 */
import type { InstalledKind } from '../boot/installed.js';
import { ok, warn, type Finding } from './finding.js';

const CHECK = 'boot-integration';

const WHAT: Record<InstalledKind['kind'], string> = {
  systemd: 'systemd (snapstore-activate.service)',
  'initramfs-tools': "the initramfs-tools initramfs (its hook and local-bottom script; the image's own rebuild is not checked here)",
  dracut: "the dracut initramfs (its 90snapstore module; the image's own rebuild is not checked here)",
};

export function checkBootIntegration(kinds: readonly InstalledKind[]): Finding {
  const installed = kinds.filter((k) => k.present.length > 0);
  if (installed.length === 0) {
    return warn(
      CHECK,
      'no boot integration is installed: after a reboot nothing runs `snapstore activate` before the data filesystems are mounted, so a checkpoint is not rebuilt (and its filesystem is then written outside it)',
      'snapstore install-boot (systemd), or with --initramfs-tools or --dracut',
    );
  }
  const problems: { said: string; fix: string }[] = [];
  for (const k of installed) {
    if (k.missing.length) problems.push({ said: `${k.kind} is installed in part: ${k.missing.join(', ')} ${k.missing.length === 1 ? 'is' : 'are'} missing`, fix: `snapstore install-boot --${k.kind}` });
    else if (k.unit === 'masked') problems.push({ said: 'snapstore-activate.service is masked', fix: 'systemctl unmask snapstore-activate.service && systemctl enable snapstore-activate.service' });
    else if (k.unit === 'disabled') problems.push({ said: 'snapstore-activate.service is installed but not enabled', fix: 'systemctl enable snapstore-activate.service' });
  }
  const whole = installed.filter((k) => k.missing.length === 0 && (k.unit === undefined || k.unit === 'enabled'));
  const runs = whole.length ? `activate runs at boot from ${whole.map((k) => WHAT[k.kind]).join(' and ')}` : undefined;
  if (problems.length === 0) return ok(CHECK, runs!);
  return warn(CHECK, `${problems.map((p) => p.said).join('; ')}${runs ? `; ${runs}` : ': activate does not run at boot'}`, problems.map((p) => p.fix).join('; '));
}
