#!/bin/bash
# dracut module: `snapstore activate` in the initramfs, at pre-pivot. Installed into
# /usr/lib/dracut/modules.d/90snapstore by `snapstore install-boot --dracut`.
#
# Into /usr/lib/snapstore in the image go node and the files of the snapstore
# installed here that activate needs (boot/image-files.cjs lists them: the CLI
# bundle and its run-time dependencies, the boot helper); besides, blkid
# (activate finds partitions with `blkid -t`), modprobe (it loads dm-snapshot)
# and the dm-snapshot module. dmsetup comes with the dm module.

# called by dracut
check() {
    # Always included: an initramfs without it would boot past the snapshots.
    # install() fails the build when snapstore or node is missing.
    return 0
}

# called by dracut
depends() {
    echo dm
}

# called by dracut
installkernel() {
    # hostonly='': dm-snapshot is needed at boot even when the host has not loaded it.
    hostonly='' instmods dm_mod dm_snapshot
}

# called by dracut
install() {
    local snapstore node pkg files f
    # `npm install -g` may have put snapstore and node under /usr/local.
    snapstore=$(PATH="$PATH:/usr/local/sbin:/usr/local/bin" command -v snapstore) \
        || _snapstore_fail "snapstore is not installed (not on PATH), so the initramfs could not activate snapshots" \
            "install it (npm install -g, or npm link in a clone), or remove /usr/lib/dracut/modules.d/90snapstore"
    node=$(PATH="$PATH:/usr/local/sbin:/usr/local/bin" command -v node) || _snapstore_fail "node is not installed (not on PATH)" "install Node.js 20 or later"
    pkg=$(readlink -f "$snapstore") && pkg=${pkg%/bin/snapstore}
    files=$("$node" "$pkg/boot/image-files.cjs" "$pkg") || _snapstore_fail "cannot list the files of $pkg (above)" "fix what it says, then run dracut -f again"

    inst_binary "$(readlink -f "$node")" /usr/lib/snapstore/node || _snapstore_fail "cannot copy $node" "see above"
    while IFS= read -r f; do
        inst_simple "$pkg/$f" "/usr/lib/snapstore/$f" || _snapstore_fail "cannot copy $pkg/$f" "see above"
    done <<< "$files"
    inst_multiple blkid modprobe
    # shellcheck disable=SC2154 # moddir: set by dracut
    inst_hook pre-pivot 50 "$moddir/snapstore-pre-pivot.sh"
}

# Fails the build on purpose: an initramfs without activate would boot past the
# snapshots, and the data filesystems would be written outside them. (module-setup.sh is
# sourced by dracut: exit ends dracut, as inst_hook does on an error.)
_snapstore_fail() {
    dfatal "snapstore: $1; way out: $2"
    exit 1
}
