#!/usr/bin/env bash
# `nbt seed --recheck`, `nbt download --skip-file` and `--log-level` (run by scripts/test with NBT=path to
# the nbt binary): a skipped file is neither downloaded nor created, the download still ends once the
# wanted files are verified, the engine logs to stderr only when asked, and bad values are one
# `nbt: error:` line each.
set -euo pipefail
NBT=${NBT:?set NBT to the nbt binary}
work=$(mktemp -d)
seed_pid=""
cleanup() {
  if [ -n "$seed_pid" ]; then kill "$seed_pid" 2>/dev/null || true; wait "$seed_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$work/src/set"
head -c 65536 /dev/urandom >"$work/src/set/a.bin"
head -c 65536 /dev/urandom >"$work/src/set/b.bin"
head -c 65536 /dev/urandom >"$work/src/set/c.bin"
"$NBT" create "$work/src/set" --v1 --piece-size 16K --no-date -o "$work/set.torrent" >/dev/null

timeout -k 5 120 "$NBT" seed "$work/set.torrent" "$work/src" --bind 127.0.0.1 --recheck \
  >"$work/seed.out" 2>"$work/seed.err" &
seed_pid=$!
port=""
for _ in $(seq 1 200); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/seed.out" | head -1)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || fail "the seed did not report its port: $(cat "$work/seed.out" "$work/seed.err")"

timeout -k 5 120 "$NBT" download "$work/set.torrent" -o "$work/dl" --bind 127.0.0.1 \
  --peer "127.0.0.1:$port" --skip-file 1 --log-level debug >"$work/dl.out" 2>"$work/dl.err" ||
  fail "download with --skip-file exited non-zero: $(cat "$work/dl.err")"
cmp -s "$work/src/set/a.bin" "$work/dl/set/a.bin" || fail "a.bin differs"
cmp -s "$work/src/set/c.bin" "$work/dl/set/c.bin" || fail "c.bin differs"
[ ! -e "$work/dl/set/b.bin" ] || fail "the skipped b.bin was created"
grep -q "info nbt.engine:.*torrent finished" "$work/dl.err" || fail "no info log line: $(cat "$work/dl.err")"
grep -q "debug nbt.engine:.*peer connected" "$work/dl.err" || fail "no debug log line: $(cat "$work/dl.err")"
! grep -q "nbt.engine" "$work/seed.err" "$work/seed.out" || fail "the seed logged without --log-level"

if "$NBT" download "$work/set.torrent" -o "$work/dl2" --skip-file 3 >"$work/bad.out" 2>"$work/bad.err"; then
  fail "download with --skip-file 3 succeeded"
fi
[ "$(cat "$work/bad.err")" = "nbt: error: --skip-file 3: the torrent has 3 files" ] ||
  fail "bad --skip-file: $(cat "$work/bad.err")"
if "$NBT" download "$work/set.torrent" -o "$work/dl3" --log-level loud >"$work/lvl.out" 2>"$work/lvl.err"; then
  fail "download with --log-level loud succeeded"
fi
[ "$(wc -l <"$work/lvl.err")" -eq 1 ] && grep -q "^nbt: error: --log-level" "$work/lvl.err" ||
  fail "bad --log-level is not one error line: $(cat "$work/lvl.err")"
echo "download_skip.sh: ok"
