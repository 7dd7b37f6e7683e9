# Narration for the demo scripts: a heading, and each command shown before it runs.
# Colour only for a person at a terminal: stdout is a terminal and NO_COLOR is unset
# (or empty, as https://no-color.org asks); redirected to a file or a pipe, plain text.
if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
  narrate_bold=$'\033[1m' narrate_cyan=$'\033[36m' narrate_reset=$'\033[0m'
else
  narrate_bold='' narrate_cyan='' narrate_reset=''
fi
say() { printf '\n%s== %s%s\n' "$narrate_bold" "$*" "$narrate_reset"; }
run() { printf '%s$ %s%s\n' "$narrate_cyan" "$*" "$narrate_reset"; "$@"; }
# A filter for narration that arrives as text (the VM's console): removes every terminal
# control sequence and control character (ESC [ ... CSI, ESC ] ... OSC, ESC 7/ESC 8 and
# other two-byte escapes, CR, BEL, backspace), then colours its headings and commands
# as say and run would here.
narrate_text() {
  LC_ALL=C sed -e 's#\x1b\][^\x07\x1b]*\(\x07\|\x1b\\\)##g' \
    -e 's#\x1b\[[0-?]*[ -/]*[@-~]##g' \
    -e 's#\x1b[ -/]*[0-~]##g' \
    -e 's#[\x00-\x08\x0b-\x1f\x7f]##g' |
    if [[ -n "$narrate_bold" ]]; then
      sed -e "s/^== .*/${narrate_bold}&${narrate_reset}/" -e "s/^\\\$ .*/${narrate_cyan}&${narrate_reset}/"
    else
      cat
    fi
}
# A check the story stands on, said aloud: `verdict WHAT COMMAND...` runs COMMAND quietly
# and prints "verdict: ok: WHAT" when it succeeds, "verdict: FAILED: WHAT" when not.
# scripts/demo counts them and fails when one failed (test/kernel/demo.test.ts reads them).
verdict() {
  local what=$1
  shift
  if "$@" >/dev/null 2>&1; then
    printf 'verdict: ok: %s\n' "$what"
  else
    printf 'verdict: FAILED: %s\n' "$what"
  fi
}
