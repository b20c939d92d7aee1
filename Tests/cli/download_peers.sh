#!/usr/bin/env bash
# `nbt seed`/`nbt download` network flags between local nbt processes on 127.0.0.1 (run by scripts/test with
# NBT=path to the nbt binary): `--port A-B` binds the next port of the range when A is taken, `--max-peers 1`
# keeps one of two `--peer` seeds, `--sequential` verifies pieces in order (the `piece verified` lines of
# `--log-level debug`), and a download whose stdout is not a terminal prints plain progress lines.
source "$(dirname "$0")/common.bash"
make_payload data.bin 6
torrent=$work/data.bin.torrent
pieces=96

start_bg "$work/seed1" 55 seed "$torrent" "$work/src" --bind 127.0.0.1
port1=$(listen_port "$work/seed1")

# --port A-B with A taken: the next free port of the range.
start_bg "$work/seed2" 55 seed "$torrent" "$work/src" --bind 127.0.0.1 --port "$port1-$((port1 + 20))"
port2=$(listen_port "$work/seed2")
[ "$port2" -gt "$port1" ] && [ "$port2" -le $((port1 + 20)) ] ||
  fail "--port $port1-$((port1 + 20)) with $port1 taken listened on $port2"

# --max-peers 1 with two seeds given: one connection (a 2 MiB/s limit keeps the download going ~3 s, long
# enough for a second peer to be used if it were allowed).
start=$(date +%s.%N)
timeout -k 5 40 "$NBT" download "$torrent" -o "$work/dl1" --bind 127.0.0.1 --peer "127.0.0.1:$port1" \
  --peer "127.0.0.1:$port2" --max-peers 1 --down-limit 2M --log-level debug >"$work/dl1.out" 2>"$work/dl1.err" ||
  fail "download with --max-peers 1 exited non-zero: $(cat "$work/dl1.err")"
cmp -s "$work/src/data.bin" "$work/dl1/data.bin" || fail "--max-peers 1: the downloaded data differs"
connected=$(grep -c "peer connected" "$work/dl1.err" || true)
[ "$connected" -eq 1 ] || fail "--max-peers 1: $connected peer connections: $(grep "peer connected" "$work/dl1.err")"
! grep -qE " peers [2-9]" "$work/dl1.out" || fail "--max-peers 1: a progress line shows more peers"

# A plain progress line (stdout is a file): name, percent, state, down and up rates, peers, ETA.
grep -qE '^data\.bin +[0-9]+\.[0-9]% downloading  down [0-9.]+ [KMG]?i?B/s  up [0-9.]+ [KMG]?i?B/s  peers [0-9]+ \([0-9]+ seeds\)  ETA ([0-9:]+|--:--)$' \
  "$work/dl1.out" || fail "no plain progress line with every field: $(cat "$work/dl1.out")"
grep -qE '^data\.bin: complete, 6\.0 MiB in [0-9.]+ s' "$work/dl1.out" || fail "no completion line: $(cat "$work/dl1.out")"
! grep -q $'\r' "$work/dl1.out" || fail "carriage returns in the output to a file"

# Without --max-peers both seeds are used (so the check above can tell the flag was honoured).
timeout -k 5 40 "$NBT" download "$torrent" -o "$work/dl2" --bind 127.0.0.1 --peer "127.0.0.1:$port1" \
  --peer "127.0.0.1:$port2" --down-limit 2M --log-level debug >"$work/dl2.out" 2>"$work/dl2.err" ||
  fail "download from two seeds exited non-zero: $(cat "$work/dl2.err")"
connected=$(grep -c "peer connected" "$work/dl2.err" || true)
[ "$connected" -ge 2 ] || fail "without --max-peers only $connected peer connection(s)"

# --sequential: the first half of the pieces verified is the lower half of the torrent, but for local swaps
# of pieces in flight together and the allowed-fast pieces (BEP 6, up to 10) a choked peer fetches first.
order() { sed -n 's/.*piece=\([0-9]*\).*piece verified.*/\1/p' "$1"; }
# lower_first LOG: how many of the first $pieces/2 pieces verified have an index below $pieces/2.
lower_first() { order "$1" | head -$((pieces / 2)) | awk -v half=$((pieces / 2)) '$1 < half { n++ } END { print n + 0 }'; }
timeout -k 5 40 "$NBT" download "$torrent" -o "$work/dl3" --bind 127.0.0.1 --peer "127.0.0.1:$port1" \
  --sequential --log-level debug >"$work/dl3.out" 2>"$work/dl3.err" ||
  fail "download with --sequential exited non-zero: $(cat "$work/dl3.err")"
cmp -s "$work/src/data.bin" "$work/dl3/data.bin" || fail "--sequential: the downloaded data differs"
[ "$(order "$work/dl3.err" | sort -n | uniq | wc -l)" -eq $pieces ] ||
  fail "--sequential: not $pieces distinct 'piece verified' lines"
sequential=$(lower_first "$work/dl3.err")
[ "$sequential" -ge $((pieces / 2 - 12)) ] ||
  fail "--sequential: $sequential of the first $((pieces / 2)) pieces verified are in the lower half: $(order "$work/dl3.err" | tr '\n' ' ')"
# Rarest first (the default) picks at random among equally rare pieces: about half of the first half are
# in the lower half (33 is 3.7 standard deviations above), so the check above can fail.
[ "$(order "$work/dl2.err" | sort -n | uniq | wc -l)" -eq $pieces ] ||
  fail "not $pieces distinct 'piece verified' lines without --sequential"
rarest=$(lower_first "$work/dl2.err")
[ "$rarest" -le $((pieces / 2 - 15)) ] ||
  fail "without --sequential $rarest of the first $((pieces / 2)) pieces verified are in the lower half (the --sequential check proves nothing)"
echo "download_peers.sh: ok"
