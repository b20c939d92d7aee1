#!/usr/bin/env bash
# `nbt simulate` (issue 18): a 20-peer swarm of real clients on the virtual network completes, and two runs
# of one seed print identical JSON when the process hashes deterministically.
source "$(dirname "$0")/common.bash"
run() {
  SWIFT_DETERMINISTIC_HASHING=1 timeout -k 5 300 "$NBT" simulate --peers 19 --size 512 --piece-length 64 \
    --seed 3 --free-riders 2 --liars 2 --loss 0.01 --json | grep -v wallSeconds
}
run >"$work/first.json" || fail "simulate failed"
run >"$work/second.json" || fail "simulate failed the second time"
grep -q '"allCompleted" : true' "$work/first.json" || fail "not every leecher completed"
cmp -s "$work/first.json" "$work/second.json" || fail "two runs of seed 3 differ"
"$NBT" simulate --peers 5 --size 256 --piece-length 64 --seed 1 | matches "5/5 leechers completed" \
  || fail "the plain summary does not report 5/5 completed"
echo "ok: simulate (identical JSON from two runs, $(grep -c '"index"' "$work/first.json") peers)"
