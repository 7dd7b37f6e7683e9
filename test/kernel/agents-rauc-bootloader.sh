#!/bin/sh
# RAUC's `custom` bootloader backend for the VM test bed (system.conf:
# bootloader=custom, bootloader-custom-backend=THIS): the bootloader's record of
# the primary slot and of each slot's good/bad state, kept as files in
# $AGENTS_BOOT_DIR on a disk kept across the suite's boots. The test plays the
# bootloader's choice at boot from them (agents-system.ts, bootedSlot).
set -eu
dir=${AGENTS_BOOT_DIR:?AGENTS_BOOT_DIR names the folder of the bootloader record}
case ${1:-} in
  get-primary) cat "$dir/primary" ;;
  # A new primary is bootable again, with fresh tries, as barebox's and U-Boot's are.
  set-primary) echo "$2" >"$dir/primary" && rm -f "$dir/state.$2" ;;
  get-state) if [ -f "$dir/state.$2" ]; then cat "$dir/state.$2"; else echo good; fi ;;
  set-state) echo "$3" >"$dir/state.$2" ;;
  *) echo "agents-rauc-bootloader: no command '${1:-}' (get-primary, set-primary, get-state, set-state)" >&2; exit 1 ;;
esac
