// The guest vitest config of the kernel tests, pointed at the dm benchmark.
import { defineConfig, mergeConfig } from 'vitest/config';
import guest from '../../test/vm/vitest.guest.config.js';

export default mergeConfig(guest, defineConfig({ test: { include: ['bench/dm/**/*.guest.ts'], testTimeout: 600_000 } }), false);
