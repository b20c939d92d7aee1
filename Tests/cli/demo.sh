#!/usr/bin/env bash
# Smoke test of `nbt demo` (run by scripts/test with NBT=path to the nbt binary): the offline two-client
# swarm must download, verify byte for byte and exit 0; errors must be one `nbt: error:` line.
set -euo pipefail
NBT=${NBT:?set NBT to the nbt binary}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

timeout 300 "$NBT" demo --size 4 >"$work/demo.out" 2>"$work/demo.err" ||
  fail "nbt demo exited non-zero: $(cat "$work/demo.err")"
grep -q "^verified: 5 files identical" "$work/demo.out" || fail "no verification line: $(cat "$work/demo.out")"
grep -q "^done: " "$work/demo.out" || fail "no summary line"
grep -q "100.0%" "$work/demo.out" || fail "no progress line at 100%"

# A bad option is one error line and a non-zero exit.
if "$NBT" demo --size 0 >"$work/bad.out" 2>"$work/bad.err"; then fail "nbt demo --size 0 succeeded"; fi
[ "$(cat "$work/bad.err")" = "nbt: error: --size must be between 1 and 1024" ] || fail "bad --size: $(cat "$work/bad.err")"
if "$NBT" download "$work/x.torrent" -o "$work/dl" --port 9-3 >"$work/port.out" 2>"$work/port.err"; then
  fail "download with --port 9-3 succeeded"
fi
[ "$(wc -l <"$work/port.err")" -eq 1 ] && grep -q "^nbt: error: --port" "$work/port.err" ||
  fail "bad --port is not one error line: $(cat "$work/port.err")"
# A download of a missing torrent file is one `nbt: error:` line.
if "$NBT" download "$work/missing.torrent" -o "$work/dl" >"$work/dl.out" 2>"$work/dl.err"; then
  fail "download of a missing torrent succeeded"
fi
[ "$(wc -l <"$work/dl.err")" -eq 1 ] || fail "more than one error line: $(cat "$work/dl.err")"
grep -q "^nbt: error: " "$work/dl.err" || fail "error line lacks the prefix: $(cat "$work/dl.err")"
echo "demo.sh: ok"
