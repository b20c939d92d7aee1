#!/usr/bin/env bash
# `--down-limit` and `--up-limit` between local nbt processes on 127.0.0.1 (run by scripts/test with
# NBT=path to the nbt binary): 6 MiB at 1 MiB/s takes at least 4 s either way (lower bounds only; a
# limit that was ignored finishes in well under a second on loopback).
source "$(dirname "$0")/common.bash"
make_payload data.bin 6
torrent=$work/data.bin.torrent

at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

start_bg "$work/seed" 55 seed "$torrent" "$work/src" --bind 127.0.0.1
port=$(listen_port "$work/seed")
start=$(date +%s.%N)
timeout -k 5 40 "$NBT" download "$torrent" -o "$work/dl1" --bind 127.0.0.1 --peer "127.0.0.1:$port" \
  --down-limit 1M >"$work/dl1.out" 2>"$work/dl1.err" ||
  fail "download with --down-limit 1M exited non-zero: $(cat "$work/dl1.err")"
took=$(elapsed_since "$start")
cmp -s "$work/src/data.bin" "$work/dl1/data.bin" || fail "--down-limit: the downloaded data differs"
at_least "$took" 4 || fail "--down-limit 1M: 6 MiB in $took s"
kill "$last_pid" 2>/dev/null || true
wait "$last_pid" 2>/dev/null || true

# --up-limit on the seeding side.
start_bg "$work/upseed" 55 seed "$torrent" "$work/src" --bind 127.0.0.1 --up-limit 1M
port=$(listen_port "$work/upseed")
start=$(date +%s.%N)
timeout -k 5 40 "$NBT" download "$torrent" -o "$work/dl2" --bind 127.0.0.1 --peer "127.0.0.1:$port" \
  >"$work/dl2.out" 2>"$work/dl2.err" || fail "download from an --up-limit 1M seed exited non-zero: $(cat "$work/dl2.err")"
took=$(elapsed_since "$start")
cmp -s "$work/src/data.bin" "$work/dl2/data.bin" || fail "--up-limit: the downloaded data differs"
at_least "$took" 4 || fail "--up-limit 1M on the seed: 6 MiB in $took s"
echo "rate_limits.sh: ok"
