// Driven by test/vm/run-guest.sh (see test/vm/README.md): guest files or a shell command given
// by hand, in one boot.
//   SNAPSTORE_GUEST_FILES  space-separated guest files (repo-relative)
//   SNAPSTORE_GUEST_CMD    a shell command instead (its console is echoed)
//   SNAPSTORE_GUEST_DISKS  name:MiB[:path],...   (default data:256)
import { rmSync } from 'node:fs';
import { expect, test } from 'vitest';
import { kernelSuite } from './kernel-suite.js';
import { runInVm, type VmDisk } from './vm.js';

const disks: VmDisk[] = (process.env.SNAPSTORE_GUEST_DISKS ?? 'data:256')
  .split(',')
  .filter(Boolean)
  .map((spec) => {
    const [name = '', size = '', path] = spec.split(':');
    return { name, sizeMiB: Number(size), ...(path ? { path } : {}) };
  });
const cmd = process.env.SNAPSTORE_GUEST_CMD;
const files = (process.env.SNAPSTORE_GUEST_FILES ?? '').split(/\s+/).filter(Boolean);

if (cmd) {
  test(`guest: ${cmd}`, async () => {
    const r = await runInVm({ command: ['sh', '-c', cmd], disks, echo: true, timeoutSec: 1_700 });
    if (process.env.SNAPSTORE_VM_KEEP) console.log(`results kept in ${r.resultsDir}`);
    else rmSync(r.resultsDir, { recursive: true, force: true });
    console.log(`exit ${r.exitCode}, guest kernel ${r.kernelRelease}, boot ${r.bootSec} s, command ${r.commandSec.toFixed(2)} s, wall ${r.wallSec.toFixed(1)} s`);
    expect(r.exitCode).toBe(0);
  });
} else if (files.length > 0) {
  await kernelSuite('by hand', [{ files, disks, timeoutSec: 1_700 }]);
} else {
  test('usage', () => {
    throw new Error('usage: bash test/vm/run-guest.sh FILE.guest.ts... | --sh COMMAND   (env SNAPSTORE_GUEST_DISKS=name:MiB[:path],...)');
  });
}
