#!/usr/bin/env bash
# Run guest test files, or one shell command, in one boot of the kernel test bed, by hand.
#   bash test/vm/run-guest.sh test/kernel/smoke.guest.ts [more.guest.ts ...]
#   bash test/vm/run-guest.sh --sh 'dmsetup targets; lsblk'
#   SNAPSTORE_GUEST_DISKS=linear:64,mkfs:320 bash test/vm/run-guest.sh test/kernel/smoke.guest.ts
#   SNAPSTORE_VM_ECHO=1 ...   copy the guest console to the terminal as it comes
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash test/vm/setup.sh
if [[ "${1:-}" == "--sh" ]]; then
  shift
  export SNAPSTORE_GUEST_CMD="$*"
else
  export SNAPSTORE_GUEST_FILES="$*"
fi
exec node node_modules/vitest/vitest.mjs run --config test/vm/vitest.run.config.ts
