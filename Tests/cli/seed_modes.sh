#!/usr/bin/env bash
# `nbt download --seed` and `--seed-ratio R` between local nbt processes on 127.0.0.1 (run by scripts/test
# with NBT=path to the nbt binary): with --seed the download keeps running after it completes and serves
# a second downloader (the original seed gone); with --seed-ratio it keeps running until uploaded/downloaded
# reaches R, then exits 0; Ctrl-C of a completed download exits 0.
source "$(dirname "$0")/common.bash"
make_payload data.bin 6
torrent=$work/data.bin.torrent
alive() { kill -0 "$1" 2>/dev/null; }

start_bg "$work/seed" 55 seed "$torrent" "$work/src" --bind 127.0.0.1
seed_pid=$last_pid
port=$(listen_port "$work/seed")

# --seed: completes, keeps running.
start_bg "$work/a" 55 download "$torrent" -o "$work/a" --bind 127.0.0.1 --peer "127.0.0.1:$port" --seed
a_pid=$last_pid
a_port=$(listen_port "$work/a")
wait_for '^data\.bin: complete' "$work/a.out" 30
sleep 1
alive "$a_pid" || fail "download --seed exited after completing: $(cat "$work/a.out" "$work/a.err")"
cmp -s "$work/src/data.bin" "$work/a/data.bin" || fail "--seed: the downloaded data differs"
kill "$seed_pid"
wait "$seed_pid" 2>/dev/null || true

# ... and serves a second downloader with the original seed gone.
timeout -k 5 30 "$NBT" download "$torrent" -o "$work/b" --bind 127.0.0.1 --peer "127.0.0.1:$a_port" \
  >"$work/b.out" 2>"$work/b.err" || fail "download from the --seed peer exited non-zero: $(cat "$work/b.err")"
cmp -s "$work/src/data.bin" "$work/b/data.bin" || fail "the download from the --seed peer differs"
alive "$a_pid" || fail "download --seed exited while seeding"

# --seed-ratio 0.5: after completing it waits for 3 MiB of upload (to a downloader that only knows it), then
# exits 0 by itself.
start_bg "$work/c" 55 download "$torrent" -o "$work/c" --bind 127.0.0.1 --peer "127.0.0.1:$a_port" --seed-ratio 0.5
c_pid=$last_pid
c_port=$(listen_port "$work/c")
wait_for '^data\.bin: complete' "$work/c.out" 30
sleep 1
alive "$c_pid" || fail "download --seed-ratio 0.5 exited before uploading: $(cat "$work/c.out" "$work/c.err")"
start_bg "$work/d" 55 download "$torrent" -o "$work/d" --bind 127.0.0.1 --peer "127.0.0.1:$c_port"
d_pid=$last_pid
finish "$c_pid"
[ "$status" -eq 0 ] || fail "download --seed-ratio 0.5 exited $status: $(cat "$work/c.out" "$work/c.err")"
down=$(stopped_field "$work/c" downloaded)
up=$(stopped_field "$work/c" uploaded)
[ "$down" -gt 0 ] && [ $((up * 2)) -ge "$down" ] || fail "--seed-ratio 0.5 stopped at $up uploaded / $down downloaded"
kill "$d_pid" 2>/dev/null || true

# Ctrl-C of the completed --seed download: a clean stop, exit 0, resume data written.
kill -INT "$a_pid"
finish "$a_pid"
[ "$status" -eq 0 ] || fail "Ctrl-C of a completed --seed download exited $status: $(cat "$work/a.err")"
grep -q "^stopped: 96/96 pieces, .*; resume data written" "$work/a.out" || fail "no stopped line: $(cat "$work/a.out")"
[ "$(stopped_field "$work/a" uploaded)" -ge 6291456 ] || fail "the --seed download uploaded less than 6 MiB"
ls "$work/a"/.data.bin.*.resume >/dev/null 2>&1 || fail "no resume data in $work/a"
echo "seed_modes.sh: ok"
