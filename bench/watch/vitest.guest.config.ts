// The guest vitest config of the kernel tests, pointed at the watcher benchmark in the VM.
import { defineConfig, mergeConfig } from 'vitest/config';
import guest from '../../test/vm/vitest.guest.config.js';

export default mergeConfig(guest, defineConfig({ test: { include: ['bench/watch/*.guest.ts'], testTimeout: 1_500_000 } }), false);
