// Host config of the lifecycle benchmark in the VM (not part of the normal test run: the
// repo's vitest.config.ts takes test/**/*.test.ts only):
//   npx vitest run --config bench/lifecycle/vitest.config.ts
import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { include: ['bench/lifecycle/lifecycle.host.ts'], testTimeout: 2_400_000 } });
