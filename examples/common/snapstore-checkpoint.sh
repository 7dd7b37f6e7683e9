# shellcheck shell=sh
# Sourced by the update agents' hooks in examples/*/: takes, keeps and drops the
# checkpoint of the data filesystem around an update, with snapstore's CLI.
#
# Settings: shell assignments in /etc/snapstore/checkpoint.conf (or the file
# SNAPSTORE_CHECKPOINT_CONF names; examples/common/checkpoint.conf), or the environment:
#   SNAPSTORE_ORIGIN         the data filesystem's dm device (required), e.g. /dev/mapper/data
#   SNAPSTORE_STORE_DIR      a folder on that filesystem for the store: root's, mode 0700 (required)
#   SNAPSTORE_SIZE           the store's size (default 10%: of the data filesystem)
#   SNAPSTORE_BOOT_ATTEMPTS  boots the new system may take to commit: the bootloader's tries of the new slot (default 1)
#   SNAPSTORE_STATE_DIR      snapstore's state directory (default /var/lib/snapstore)
#   SNAPSTORE_NAME_PREFIX    put before the checkpoints' names (default none): dm device
#                            names are the machine's, so two agents' configurations on
#                            one machine (or one test) need different ones
#   SNAPSTORE                the snapstore command (default snapstore)
# Needs jq (to read `snapstore status --json`).

SNAPSTORE_CHECKPOINT_CONF=${SNAPSTORE_CHECKPOINT_CONF:-/etc/snapstore/checkpoint.conf}
if [ -f "$SNAPSTORE_CHECKPOINT_CONF" ]; then
  # shellcheck disable=SC1090 # the device's own settings
  . "$SNAPSTORE_CHECKPOINT_CONF"
fi
SNAPSTORE=${SNAPSTORE:-snapstore}
SNAPSTORE_STATE_DIR=${SNAPSTORE_STATE_DIR:-/var/lib/snapstore}
SNAPSTORE_SIZE=${SNAPSTORE_SIZE:-10%}
SNAPSTORE_BOOT_ATTEMPTS=${SNAPSTORE_BOOT_ATTEMPTS:-1}
SNAPSTORE_NAME_PREFIX=${SNAPSTORE_NAME_PREFIX:-}

checkpoint_say() { echo "snapstore-checkpoint: $*" >&2; }

# snapstore with the state directory. Callers that change records add
# --wait-lock: another snapstore (the boot's activate, a watcher's step) is
# waited for rather than failed on.
checkpoint_ss() { "$SNAPSTORE" "$@" --state-dir "$SNAPSTORE_STATE_DIR"; }

# Our checkpoints whose name starts with PREFIX, one per line: NAME STATE BOOTS_USED.
# Finished ones (committed, rolled back, discarded) are left out.
checkpoint_list() {
  [ -d "$SNAPSTORE_STATE_DIR" ] || return 0 # no snapshot ever made
  # Read first: in a pipe, a failed status would look like no checkpoint at all.
  json=$(checkpoint_ss status --json) || return 1
  printf '%s\n' "$json" | jq -r --arg p "$1" '.snapshots[]
    | select((.name | startswith($p)) and (.state | IN("committed", "rolled-back", "discarded") | not))
    | "\(.name) \(.state) \(.bootAttempts.used // 0)"'
}

# checkpoint_begin PREFIX NAME: the checkpoint NAME of the data filesystem, with
# the boot budget, before an update. What an earlier install left under PREFIX
# is dealt with first: a checkpoint no boot has counted (that install failed or
# was abandoned before its reboot, and the system running now is the one to
# keep) is discarded; one a boot has counted belongs to an update that ran, and
# only an engineer can tell whether its data is to be kept: refused.
checkpoint_begin() {
  prefix=$1 name=$2
  : "${SNAPSTORE_ORIGIN:?set SNAPSTORE_ORIGIN (the dm device of the data filesystem) in $SNAPSTORE_CHECKPOINT_CONF}"
  : "${SNAPSTORE_STORE_DIR:?set SNAPSTORE_STORE_DIR (a folder on the data filesystem for the store) in $SNAPSTORE_CHECKPOINT_CONF}"
  list=$(checkpoint_list "$prefix") || return 1
  while read -r old state used; do
    [ -n "$old" ] || continue
    if [ "$state" = active ] && [ "$used" = 0 ]; then
      checkpoint_say "discarding $old: left by an earlier install that never reached its reboot"
      checkpoint_ss discard "$old" --wait-lock 60 >&2 || return 1
    else
      checkpoint_say "refusing the update: checkpoint $old of an earlier update is $state after $used boot(s), neither committed nor rolled back; way out: \`snapstore rollback $old\` if that update's system ran and its data is not wanted, \`snapstore commit $old\` to keep it, then install again"
      return 1
    fi
  done <<LIST
$list
LIST
  checkpoint_ss create "$name" --origin "$SNAPSTORE_ORIGIN" --store "$SNAPSTORE_STORE_DIR/$name.store" \
    --size "$SNAPSTORE_SIZE" --boot-attempts "$SNAPSTORE_BOOT_ATTEMPTS" --wait-lock 60 >&2
}

# checkpoint_find LIST NAME: NAME's line of a checkpoint_list output, empty if it is not there.
checkpoint_find() {
  printf '%s\n' "$1" | awk -v n="$2" '$1 == n'
}
