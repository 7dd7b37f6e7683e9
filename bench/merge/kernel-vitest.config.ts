// Host config of the merge benchmark in the VM (not part of the normal test run):
//   npx vitest run --config bench/merge/kernel-vitest.config.ts
import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { include: ['bench/merge/kernel-bench.ts'], testTimeout: 1_000_000 } });
