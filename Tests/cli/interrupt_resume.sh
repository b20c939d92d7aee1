#!/usr/bin/env bash
# Ctrl-C and resume of `nbt download` between local nbt processes on 127.0.0.1 (run by scripts/test with
# NBT=path to the nbt binary): SIGINT midway stops cleanly with exit status 130 and writes resume data; a
# second run reports what it resumed, downloads only the rest and completes; meanwhile the output (not a
# terminal) has periodic plain progress lines. SIGINT during the initial hash check stops the check: exit
# 130 before the check ends.
source "$(dirname "$0")/common.bash"
make_payload data.bin 6
torrent=$work/data.bin.torrent
total=6291456

start_bg "$work/seed" 55 seed "$torrent" "$work/src" --bind 127.0.0.1
port=$(listen_port "$work/seed")

# First run: 512 KiB/s (12 s for all of it), interrupted after about 7 s.
start_bg "$work/run1" 40 download "$torrent" -o "$work/dl" --bind 127.0.0.1 --peer "127.0.0.1:$port" \
  --down-limit 512K
run1=$last_pid
listen_port "$work/run1" >/dev/null
sleep 7
kill -INT "$run1"
finish "$run1"
[ "$status" -eq 130 ] || fail "Ctrl-C midway: exit status $status, not 130: $(cat "$work/run1.out" "$work/run1.err")"
line=$(grep '^stopped: ' "$work/run1.out") || fail "no stopped line after Ctrl-C: $(cat "$work/run1.out")"
verified=$(echo "$line" | sed -n 's/^stopped: \([0-9]*\)\/96 pieces.*resume data written$/\1/p')
[ -n "$verified" ] && [ "$verified" -gt 0 ] && [ "$verified" -lt 96 ] ||
  fail "after Ctrl-C midway expected 1..95 of 96 pieces: $line"
ls "$work/dl"/.data.bin.*.resume >/dev/null 2>&1 || fail "no resume data after Ctrl-C"
# Periodic plain lines (every 5 s): at least two in 7 s, with every field.
progress='^data\.bin +[0-9]+\.[0-9]% downloading  down [0-9.]+ [KMG]?i?B/s  up [0-9.]+ [KMG]?i?B/s  peers [0-9]+ \([0-9]+ seeds\)  ETA ([0-9:]+|--:--)$'
[ "$(grep -cE "$progress" "$work/run1.out")" -ge 2 ] || fail "fewer than two plain progress lines: $(cat "$work/run1.out")"

# Second run: resumes, downloads only what is missing.
timeout -k 5 30 "$NBT" download "$torrent" -o "$work/dl" --bind 127.0.0.1 --peer "127.0.0.1:$port" \
  >"$work/run2.out" 2>"$work/run2.err" || fail "the resumed download exited non-zero: $(cat "$work/run2.err")"
cmp -s "$work/src/data.bin" "$work/dl/data.bin" || fail "the resumed download differs"
resumed=$(sed -n 's/^resuming: \([0-9]*\)\/96 pieces already verified.*/\1/p' "$work/run2.out")
[ -n "$resumed" ] || fail "the second run did not report resuming: $(cat "$work/run2.out")"
[ "$resumed" -ge "$verified" ] || fail "resumed $resumed pieces, the first run had verified $verified"
downloaded=$(stopped_field "$work/run2" downloaded)
# At most the missing pieces plus a little slack (blocks of a partial piece fetched again).
[ "$downloaded" -le $(((96 - resumed) * 65536 + 262144)) ] ||
  fail "the second run downloaded $downloaded bytes with $resumed of 96 pieces already verified"
[ "$downloaded" -lt "$total" ] || fail "the second run downloaded everything again"
# SIGINT during the initial hash check: a 64 GiB sparse file of zeros (every piece hashes alike, so the
# torrent is made here rather than by hashing it) takes far longer to check than the test waits.
python=${NBT_PYTHON:-python3}
"$python" - "$work/zero.torrent" <<'PY'
import hashlib, sys
piece, length = 16 << 20, 64 << 30
pieces = hashlib.sha1(bytes(piece)).digest() * (length // piece)
info = b"d6:lengthi%de4:name8:zero.bin12:piece lengthi%de6:pieces%d:" % (length, piece, len(pieces)) + pieces + b"e"
open(sys.argv[1], "wb").write(b"d4:info" + info + b"e")
PY
mkdir -p "$work/zero"
truncate -s 64G "$work/zero/zero.bin"
start_bg "$work/check" 40 seed "$work/zero.torrent" "$work/zero" --bind 127.0.0.1
check=$last_pid
wait_for '^zero\.bin +[0-9.]+% checking' "$work/check.out" 20
sleep 1
kill -INT "$check"
finish "$check"
[ "$status" -eq 130 ] || fail "Ctrl-C during the hash check: exit status $status, not 130: $(cat "$work/check.out" "$work/check.err")"
grep -q '^stopped during the hash check' "$work/check.out" || fail "no 'stopped during the hash check' line: $(cat "$work/check.out")"
! grep -q 'listening on' "$work/check.out" || fail "the hash check ran to its end after Ctrl-C"
echo "interrupt_resume.sh: ok"
