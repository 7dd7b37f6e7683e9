#!/usr/bin/env bash
# Prepare the kernel test bed: Debian packages on the host, a Debian kernel and a busybox
# initramfs under .cache/vm/ (git-ignored). Idempotent; a second run returns at once.
#
#   bash test/vm/setup.sh            # set up if needed
#   bash test/vm/setup.sh --force    # rebuild the cache (kernel download and initramfs)
#
# The stamp .cache/vm/ready records this script's sha256: editing the script (or init.sh)
# makes the next run, and vm.ts's vmAvailable(), see the cache as outdated.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="$REPO/.cache/vm"
STAMP="$CACHE/ready"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

log() { printf 'vm-setup: %s\n' "$*" >&2; }

recipe_hash() { cat "$HERE/setup.sh" "$HERE/init.sh" | sha256sum | cut -d' ' -f1; }

# Host commands the bed needs, and the Debian package that brings each.
declare -A TOOL_PKG=(
  [qemu-system-x86_64]=qemu-system-x86
  [busybox]=busybox-static
  [cpio]=cpio
  [depmod]=kmod
  [mkfs.xfs]=xfsprogs
  [lvcreate]=lvm2
  [mkfs.ext4]=e2fsprogs
  [dmsetup]=dmsetup
  [cryptsetup]=cryptsetup-bin
  [dpkg-deb]=dpkg
  # test/kernel/agents-mender.test.ts: Mender's client (standalone) and its artifact tool
  [mender]=mender-client
  [mender-artifact]=mender-artifact
  # the update agents of test/kernel/agents-*.guest.ts: their clients, bundle tools, RAUC's bus
  [rauc]=rauc
  [mksquashfs]=squashfs-tools
  [dbus-daemon]=dbus
  [swupdate]=swupdate
  [openssl]=openssl
  [jq]=jq
)

tools_ok() {
  local t
  for t in "${!TOOL_PKG[@]}"; do command -v "$t" >/dev/null 2>&1 || return 1; done
  # busybox must be the static one: it runs alone in the initramfs.
  [[ -x /bin/busybox ]] && ! ldd /bin/busybox >/dev/null 2>&1
}

fast_ok() {
  [[ $FORCE == 0 && -f "$STAMP" ]] || return 1
  [[ "$(sed -n 's/^recipe=//p' "$STAMP")" == "$(recipe_hash)" ]] || return 1
  local kver
  kver="$(sed -n 's/^kernel=//p' "$STAMP")"
  [[ -f "$CACHE/vmlinuz" && -f "$CACHE/initramfs.cpio.gz" && -d "$CACHE/root/lib/modules/$kver" ]] || return 1
  tools_ok
}

if fast_ok; then exit 0; fi

mkdir -p "$CACHE"
# One setup at a time (two test files, or a developer and a test run).
exec 9>"$CACHE/.lock"
flock 9
if fast_ok; then exit 0; fi

t0=$SECONDS
APT_UPDATED=0
apt_update_once() {
  if [[ $APT_UPDATED == 0 ]]; then
    log "apt-get update"
    apt-get update -qq >&2
    APT_UPDATED=1
  fi
}

export DEBIAN_FRONTEND=noninteractive
if ! tools_ok; then
  pkgs=()
  for t in "${!TOOL_PKG[@]}"; do pkgs+=("${TOOL_PKG[$t]}"); done
  log "installing ${pkgs[*]}"
  if ! apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2; then
    apt_update_once
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
  fi
  tools_ok || { log "tools still missing after install"; exit 1; }
fi

# The versioned kernel package behind the linux-image-amd64 metapackage.
kernel_pkg() { apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1; }
KPKG="$(kernel_pkg)"
if [[ -z "$KPKG" ]]; then apt_update_once; KPKG="$(kernel_pkg)"; fi
[[ -n "$KPKG" ]] || { log "cannot resolve the kernel package behind linux-image-amd64"; exit 1; }
KVER="${KPKG#linux-image-}"
log "kernel package $KPKG"

DEBS="$CACHE/debs"
mkdir -p "$DEBS"
deb="$(ls "$DEBS"/"${KPKG}"_*.deb 2>/dev/null | head -n1 || true)"
if [[ -z "$deb" ]]; then
  log "apt-get download $KPKG"
  # apt's sandbox user cannot write into our cache: download as root, quietly.
  if ! (cd "$DEBS" && apt-get download -q -o APT::Sandbox::User=root "$KPKG" >&2); then
    apt_update_once
    (cd "$DEBS" && apt-get download -q -o APT::Sandbox::User=root "$KPKG" >&2)
  fi
  deb="$(ls "$DEBS"/"${KPKG}"_*.deb | head -n1)"
fi

ROOT="$CACHE/root"
if [[ ! -d "$ROOT/lib/modules/$KVER" || $FORCE == 1 ]]; then
  log "extracting $(basename "$deb")"
  rm -rf "$ROOT"
  mkdir -p "$ROOT"
  dpkg-deb -x "$deb" "$ROOT"
  depmod -b "$ROOT" "$KVER"
fi
cp -f "$ROOT/boot/vmlinuz-$KVER" "$CACHE/vmlinuz"

MODDIR="$ROOT/lib/modules/$KVER"
# Modules loaded at boot, in this order (each after its dependencies, from modules.dep).
# crc32c comes first: ext4, jbd2 and xfs ask the crypto API for it by name, not by symbol.
REQUIRED=(crc32c_generic virtio_pci virtio_blk 9pnet_virtio 9p dm-mod dm-bufio dm-snapshot dm-flakey ext4 xfs loop)
OPTIONAL=(dm-log-writes dm-zero dm-thin-pool)

# modules.dep line: "kernel/x/y.ko[.xz]: dep1 dep2" (deps listed before they are needed, reversed).
declare -A DEP_OF=() PATH_OF=()
while IFS= read -r line; do
  mod="${line%%:*}"
  deps="${line#*:}"
  base="$(basename "$mod")"; base="${base%%.ko*}"; base="${base//-/_}"
  PATH_OF[$base]="$mod"
  DEP_OF[$mod]="$deps"
done <"$MODDIR/modules.dep"

declare -A SEEN=()
ORDER=()
visit() { # depth-first: dependencies first
  local mod="$1" d
  [[ -n "${SEEN[$mod]:-}" ]] && return 0
  SEEN[$mod]=1
  # modules.dep lists the direct and indirect deps; the last ones are the deepest.
  local deps=(${DEP_OF[$mod]})
  local i
  for ((i = ${#deps[@]} - 1; i >= 0; i--)); do visit "${deps[$i]}"; done
  ORDER+=("$mod")
}
builtin_has() { grep -q "/${1}.ko\$" "$MODDIR/modules.builtin" 2>/dev/null || grep -q "/${1//_/-}.ko\$" "$MODDIR/modules.builtin" 2>/dev/null; }
want() {
  local name="${2//-/_}"
  if [[ -n "${PATH_OF[$name]:-}" ]]; then visit "${PATH_OF[$name]}"
  elif builtin_has "$name"; then :
  elif [[ $1 == required ]]; then log "module $2 not found in $KVER"; exit 1
  else log "optional module $2 not in $KVER, skipped"; fi
}
want required crc32c_generic
for m in "${REQUIRED[@]}"; do want required "$m"; done
for m in "${OPTIONAL[@]}"; do want optional "$m"; done

log "building the initramfs (${#ORDER[@]} modules)"
STAGE="$CACHE/initramfs.d"
rm -rf "$STAGE"
mkdir -p "$STAGE"/{bin,dev,proc,sys,newroot,results,lib/modules}
cp /bin/busybox "$STAGE/bin/busybox"
ln -s busybox "$STAGE/bin/sh"
mknod -m 600 "$STAGE/dev/console" c 5 1
mknod -m 666 "$STAGE/dev/null" c 1 3
: >"$STAGE/modules.order"
for mod in "${ORDER[@]}"; do
  name="$(basename "$mod")"
  case "$name" in
    *.ko.xz) xz -dc "$MODDIR/$mod" >"$STAGE/lib/modules/${name%.xz}"; name="${name%.xz}" ;;
    *.ko.zst) zstd -qdc "$MODDIR/$mod" >"$STAGE/lib/modules/${name%.zst}"; name="${name%.zst}" ;;
    *.ko.gz) gzip -dc "$MODDIR/$mod" >"$STAGE/lib/modules/${name%.gz}"; name="${name%.gz}" ;;
    *) cp "$MODDIR/$mod" "$STAGE/lib/modules/$name" ;;
  esac
  echo "$name" >>"$STAGE/modules.order"
done
install -m 755 "$HERE/init.sh" "$STAGE/init"
(cd "$STAGE" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$CACHE/initramfs.cpio.gz.tmp"
mv -f "$CACHE/initramfs.cpio.gz.tmp" "$CACHE/initramfs.cpio.gz"
rm -rf "$STAGE"

cat >"$STAMP.tmp" <<EOF
recipe=$(recipe_hash)
kernel=$KVER
package=$(basename "$deb")
modules_root=$ROOT
EOF
mv -f "$STAMP.tmp" "$STAMP"
log "ready: kernel $KVER in $((SECONDS - t0)) s"
