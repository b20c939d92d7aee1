#!/usr/bin/env bash
# BTStorage's SIGBUS guard (the safety net of `nbt check --mmap`), each case in a process of its own via the
# hidden `nbt _sigbus-probe`: a fault on a truncated file's page inside a registered window is absorbed
# (exit 0, "absorbed"); the same fault outside every window still ends the process with SIGBUS, and so
# does a SIGBUS sent by another process (exit status 128 + 7) when Swift's backtracer is off.
set -uo pipefail
: "${NBT:?set NBT to the nbt binary}"
[ "$(uname -s)" = Linux ] || { echo "sigbus_guard.sh: skipped (Linux only)"; exit 0; }
work=$(mktemp -d /tmp/nbt-sigbus-sh.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "sigbus_guard.sh: FAIL: $*" >&2; exit 1; }
sigbus=$((128 + $(kill -l BUS)))

out=$(timeout -k 5 30 "$NBT" _sigbus-probe --inside "$work" 2>&1); status=$?
[ "$status" = 0 ] && [ "$out" = absorbed ] || fail "a fault inside a registered window was not absorbed ($status: $out)"

out=$(timeout -k 5 30 "$NBT" _sigbus-probe "$work" 2>&1); status=$?
[ "$status" = "$sigbus" ] || fail "a fault outside every window did not end the process with SIGBUS ($status: $out)"

# Swift's crash backtracer (on by default) reports a SIGBUS sent by kill and lets the process go on, guard
# or not; with it off, the disposition the guard hands a sent signal back to is the default one: terminate.
out=$(SWIFT_BACKTRACE=enable=no timeout -k 5 30 "$NBT" _sigbus-probe --send "$work" 2>&1); status=$?
[ "$status" = "$sigbus" ] || fail "a SIGBUS sent to the process did not end it ($status: $out)"
echo "sigbus_guard.sh: ok"
