import { installBoot, type BootKind, type InstalledFile } from '../../boot/index.js';
import type { CommandContext } from '../context.js';

export interface InstallBootCommandOptions {
  systemd?: boolean;
  initramfsTools?: boolean;
  dracut?: boolean;
  root?: string;
  dryRun?: boolean;
}

const DONE: Record<InstalledFile['change'], [string, string]> = { new: ['installed', 'would install'], replaced: ['replaced', 'would replace'], unchanged: ['unchanged', 'unchanged'] };
const WHERE: Record<BootKind, string> = {
  systemd: 'by systemd (snapstore-activate.service, before local-fs-pre.target)',
  'initramfs-tools': "from the initramfs (local-bottom, the root mounted, nothing else)",
  dracut: "from the initramfs (dracut's pre-pivot, the root mounted, nothing else)",
};

export async function run(options: InstallBootCommandOptions, ctx: CommandContext): Promise<void> {
  // commander refuses two of them (.conflicts in program.ts).
  const kind = options.systemd ? 'systemd' : options.initramfsTools ? 'initramfs-tools' : options.dracut ? 'dracut' : undefined;
  const r = await installBoot({ ...(kind ? { kind } : {}), ...(options.root !== undefined ? { root: options.root } : {}), dryRun: options.dryRun ?? false, log: (l) => ctx.err(l) });
  ctx.result('install-boot', r);
  for (const f of r.files) ctx.out(`${DONE[f.change][r.dryRun ? 1 : 0]} ${f.target} (mode ${f.mode})`);
  for (const c of r.commands) ctx.out(`${r.dryRun ? 'would run' : 'ran'}: ${c}`);
  if (r.dryRun) ctx.out(`dry run: nothing was changed; ${r.kind} would run snapstore activate at boot`);
  else if (r.next.length) ctx.out(`installed into the image at ${r.root}; once snapstore is installed there, run: ${r.next.join('; ')}`);
  else ctx.out(`snapstore activate now runs at every boot ${WHERE[r.kind]}, before the data filesystems are mounted`);
}
