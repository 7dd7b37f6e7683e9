// Host config for test/vm/run-guest.sh only: boots the VM for guest files or a command given
// by hand. The project's vitest.config.ts never includes this file's target.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/vm/run-guest.host.ts'],
    testTimeout: 1_800_000,
    hookTimeout: 1_800_000,
  },
});
