// Host config of the watcher benchmark in the VM (not part of the test run):
//   npx vitest run --config bench/watch/vitest.config.ts
import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { include: ['bench/watch/watch.host.ts'], testTimeout: 1_800_000 } });
