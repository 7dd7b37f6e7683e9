import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { include: ['bench/dm/load.host.ts'], testTimeout: 1_000_000 } });
