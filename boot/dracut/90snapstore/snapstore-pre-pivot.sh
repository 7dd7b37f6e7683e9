#!/bin/sh
# dracut pre-pivot hook of the snapstore module: `snapstore activate`.
#
# Why pre-pivot: activate must run after the devices are set up and before the
# data filesystems are mounted, and it needs its state directory,
# /var/lib/snapstore, which lives on the root filesystem. At pre-pivot the root
# is mounted at $NEWROOT (/sysroot; dracut's systemd mode runs the pre-pivot
# hooks too, from dracut-pre-pivot.service), with the devices it needed (LVM,
# crypt devices opened in the initramfs) up, while the data filesystems in
# fstab are mounted only later, by the real init. The state directory is read at
# $NEWROOT/var/lib/snapstore.
#
# Sourced by dracut's init: no exit here. A failure is logged and the boot goes
# on: a system that does not boot is worse for an update agent than a snapshot
# not active, which `snapstore status` shows.
# shellcheck source=/dev/null
type warn >/dev/null 2>&1 || . /lib/dracut-lib.sh

if ! /usr/lib/snapstore/boot/snapstore-boot-activate "${NEWROOT:-/sysroot}"; then
    warn "snapstore activate failed (above): the data filesystems are mounted without their snapshots"
fi
