#!/bin/sh
# /init of the test bed's initramfs (busybox). Built into the image by setup.sh.
#
# Loads the modules listed in /modules.order (dependency order, computed from modules.dep by
# setup.sh), mounts the host root read-only (9p tag "hostroot"), the writable results share
# (9p tag "results") and the repo read-only at its own path (9p tag "repo"), and runs /run/vm-results/.vm/run.sh (written by vm.ts) in a chroot of the
# host root. Writes the exit code, the kernel release and timings to the results share, then
# powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

say() { echo "vm-init: $*"; }

while read -r m; do
  insmod "/lib/modules/$m" || say "insmod $m failed"
done </modules.order

if [ ! -e /dev/mapper/control ]; then
  mkdir -p /dev/mapper
  mknod /dev/mapper/control c 10 236
fi
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
[ -e /dev/stdin ] || ln -s /proc/self/fd/0 /dev/stdin
[ -e /dev/stdout ] || ln -s /proc/self/fd/1 /dev/stdout
[ -e /dev/stderr ] || ln -s /proc/self/fd/2 /dev/stderr
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm

NINEP=trans=virtio,version=9p2000.L,msize=512000
if ! mount -t 9p -o "$NINEP,ro,cache=loose" hostroot /newroot; then
  say "cannot mount the host root"; poweroff -f
fi
if ! mount -t 9p -o "$NINEP,rw" results /results; then
  say "cannot mount the results share"; poweroff -f
fi

R=/newroot
mount -o bind /dev $R/dev
mount -o bind /dev/pts $R/dev/pts
mount -o bind /proc $R/proc
mount -o bind /sys $R/sys
mount -t tmpfs -o mode=1777 tmpfs $R/tmp
mount -t tmpfs -o mode=755 tmpfs $R/run
mkdir -p $R/run/vm-results $R/run/lock
mount -o bind /results $R/run/vm-results
# The repo at its own path, over whatever the tmpfs mounts above hid (a clone in /tmp).
REPO=$(cat /results/.vm/repo-path)
mkdir -p "$R$REPO" 2>/dev/null
if ! mount -t 9p -o "$NINEP,ro,cache=loose" repo "$R$REPO"; then
  say "cannot mount the repo share at $REPO"; poweroff -f
fi

mkdir -p /results/.vm
uname -r >/results/.vm/kernel-release
cut -d' ' -f1 /proc/uptime >/results/.vm/uptime-start
chroot $R /bin/sh /run/vm-results/.vm/run.sh
echo $? >/results/.vm/exit-code.tmp
cut -d' ' -f1 /proc/uptime >/results/.vm/uptime-end
mv /results/.vm/exit-code.tmp /results/.vm/exit-code

sync
umount "$R$REPO" 2>/dev/null
umount $R/run/vm-results 2>/dev/null
umount /results 2>/dev/null
poweroff -f
