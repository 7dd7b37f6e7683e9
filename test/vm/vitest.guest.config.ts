// vitest config for the guest side of kernel tests: runs INSIDE the VM, started by
// test/vm/kernel-suite.ts (see test/vm/README.md). The host root is read-only there, so
// caches go to the guest's tmpfs /tmp, and vitest must be started with `--configLoader runner`
// (the default loader writes a bundled copy of this file into node_modules/.vite-temp).
import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

const results = process.env.SNAPSTORE_VM_RESULTS ?? '/tmp';
// Files run one after another in the order kernel-suite.ts gave them (they may share disks).
const order = (process.env.SNAPSTORE_GUEST_ORDER ?? '').split(':').filter(Boolean).map((f) => resolve(f));

interface Spec {
  moduleId: string;
}
class GivenOrder {
  async shard<T extends Spec>(files: T[]): Promise<T[]> {
    return files;
  }
  async sort<T extends Spec>(files: T[]): Promise<T[]> {
    const rank = (f: T) => {
      const i = order.indexOf(resolve(f.moduleId));
      return i < 0 ? order.length : i;
    };
    return [...files].sort((a, b) => rank(a) - rank(b) || a.moduleId.localeCompare(b.moduleId));
  }
}

export default defineConfig({
  cacheDir: '/tmp/vite-cache',
  test: {
    include: ['test/kernel/**/*.guest.ts'],
    setupFiles: ['test/vm/guest-setup.ts'],
    // One Node process for every guest file: Node is slow to start under TCG.
    pool: 'threads',
    maxWorkers: 1,
    isolate: false,
    fileParallelism: false,
    sequence: { sequencer: GivenOrder as never },
    testTimeout: 120_000,
    hookTimeout: 300_000,
    reporters: ['json', 'default'],
    outputFile: { json: process.env.SNAPSTORE_GUEST_REPORT ?? `${results}/vitest-report.json` },
  },
});
