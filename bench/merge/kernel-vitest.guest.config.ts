// The guest vitest config of the kernel tests, pointed at the merge benchmark in the VM.
import { defineConfig, mergeConfig } from 'vitest/config';
import guest from '../../test/vm/vitest.guest.config.js';

export default mergeConfig(guest, defineConfig({ test: { include: ['bench/merge/kernel.guest.ts'], testTimeout: 900_000 } }), false);
