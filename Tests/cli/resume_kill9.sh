#!/usr/bin/env bash
# Periodic resume data and kill -9 (issue 12, "data that never lies"), between local nbt processes on
# 127.0.0.1 (run by scripts/test with NBT=path to the nbt binary). A rate-limited sequential download of a
# three-file torrent saves resume data while it runs (at each finished file, and every two minutes); after a
# kill -9 the resume data on disk claims at least the files finished before it and no piece whose bytes are
# not on disk. Then one file is truncated and another altered between runs: the restart re-checks them,
# downloads the lost pieces again and ends with data identical to the seed's.
source "$(dirname "$0")/common.bash"
python=${NBT_PYTHON:-/usr/bin/python3}
mkdir -p "$work/src/set"
head -c 1048576 /dev/urandom >"$work/src/set/a.bin"
head -c 1048576 /dev/urandom >"$work/src/set/b.bin"
head -c 4194304 /dev/urandom >"$work/src/set/c.bin"
"$NBT" create "$work/src/set" --v1 --piece-size 64K --no-date -o "$work/set.torrent" >/dev/null
# Pieces: a.bin 0-15, b.bin 16-31, c.bin 32-95 (64 KiB each, files back to back).

# claimed RESUME: the pieces the resume data claims, one index a line (a minimal bencode reader).
claimed() {
  "$python" - "$1" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
def parse(i):
    c = data[i:i+1]
    if c == b"i":
        j = data.index(b"e", i)
        return int(data[i+1:j]), j + 1
    if c in (b"l", b"d"):
        i += 1; items = []
        while data[i:i+1] != b"e":
            item, i = parse(i); items.append(item)
        return (dict(zip(items[::2], items[1::2])) if c == b"d" else items), i + 1
    j = data.index(b":", i)
    n = int(data[i:j])
    return data[j+1:j+1+n], j + 1 + n
root, _ = parse(0)
bits, count = root[b"pieces"], root[b"piece-count"]
for index in range(count):
    if bits[index // 8] & (0x80 >> (index % 8)):
        print(index)
PY
}

# lies SRC DST PIECES...: the claimed pieces whose bytes in DST differ from SRC (the torrent's byte stream).
lies() {
  "$python" - "$@" <<'PY'
import sys
src, dst, pieces = sys.argv[1], sys.argv[2], [int(p) for p in sys.argv[3:]]
def stream(folder):
    out = b""
    for name in ("a.bin", "b.bin", "c.bin"):
        try:
            out += open(f"{folder}/{name}", "rb").read()
        except FileNotFoundError:
            pass
    return out
want, have = stream(src), stream(dst)
for piece in pieces:
    start, end = piece * 65536, (piece + 1) * 65536
    if have[start:end] != want[start:end]:
        print(piece)
PY
}

start_bg "$work/seed" 120 seed "$work/set.torrent" "$work/src" --bind 127.0.0.1
port=$(listen_port "$work/seed")

# First run: 256 KiB/s in piece order (a.bin finishes after about 4 s, b.bin after 8, c.bin would take 16 more).
start_bg "$work/run1" 60 download "$work/set.torrent" -o "$work/dl" --bind 127.0.0.1 --peer "127.0.0.1:$port" \
  --down-limit 256K --sequential
run1=$last_pid
resume=""
count=0
for _ in $(seq 1 300); do
  resume=$(ls "$work/dl"/.set.*.resume 2>/dev/null | head -1 || true)
  if [ -n "$resume" ]; then
    count=$(claimed "$resume" 2>/dev/null | wc -l || echo 0)
    [ "$count" -ge 32 ] && break
  fi
  sleep 0.1
done
# (At 256 KiB/s the 6 MiB take 24 s: resume data claiming all 96 pieces was written at the end, not while
# the download ran.)
[ "$count" -lt 96 ] || fail "no resume data claimed a.bin and b.bin while the download ran, only at its end"
# $run1 is `timeout`'s PID: the kill -9 goes to nbt itself, its child.
nbt1=$(pgrep -P "$run1" | head -1 || true)
[ -n "$nbt1" ] || fail "the download ended before the kill -9: $(cat "$work/run1.out" "$work/run1.err")"
kill -9 "$nbt1"
finish "$run1"
kill -0 "$nbt1" 2>/dev/null && fail "nbt ($nbt1) survived its kill -9"
[ -n "$resume" ] || fail "no resume data written while the download ran: $(cat "$work/run1.out" "$work/run1.err")"
[ "$count" -ge 32 ] || fail "the resume data claims $count pieces after a.bin and b.bin finished (want >= 32)"
mapfile -t pieces < <(claimed "$resume")
bad=$(lies "$work/src/set" "$work/dl/set" "${pieces[@]}")
[ -z "$bad" ] || fail "after kill -9 the resume data claims pieces not on disk: $bad"
echo "after kill -9: resume data claims ${#pieces[@]} of 96 pieces, all on disk"

# Lying files: a.bin cut to 300 KiB (pieces 4-15 lost), one byte of b.bin's piece 20 changed.
truncate -s 307200 "$work/dl/set/a.bin"
printf '\xff' | dd of="$work/dl/set/b.bin" bs=1 seek=$((4 * 65536 + 100)) conv=notrunc 2>/dev/null
cmp -s "$work/dl/set/b.bin" "$work/src/set/b.bin" && printf '\x00' |
  dd of="$work/dl/set/b.bin" bs=1 seek=$((4 * 65536 + 100)) conv=notrunc 2>/dev/null
cmp -s "$work/dl/set/b.bin" "$work/src/set/b.bin" && fail "could not alter b.bin"

timeout -k 5 60 "$NBT" download "$work/set.torrent" -o "$work/dl" --bind 127.0.0.1 --peer "127.0.0.1:$port" \
  >"$work/run2.out" 2>"$work/run2.err" || fail "the restarted download exited non-zero: $(cat "$work/run2.out" "$work/run2.err")"
for name in a.bin b.bin c.bin; do
  cmp -s "$work/src/set/$name" "$work/dl/set/$name" || fail "$name differs from the seed's after the restart"
done
resumed=$(sed -n 's/^resuming: \([0-9]*\)\/96 pieces already verified.*/\1/p' "$work/run2.out")
[ -n "$resumed" ] || fail "the restart did not report resuming: $(cat "$work/run2.out")"
# Nothing claimed and intact is lost (only the 12 cut pieces of a.bin and piece 20 of b.bin; c.bin may have
# more on disk than was claimed, found by its re-check).
[ "$resumed" -ge $((${#pieces[@]} - 13)) ] || fail "resumed $resumed pieces of the ${#pieces[@]} claimed (13 cut or altered)"
downloaded=$(stopped_field "$work/run2" downloaded)
[ "$downloaded" -ge $((13 * 65536)) ] || fail "the restart downloaded $downloaded bytes, less than the 13 lost pieces"
[ "$downloaded" -lt $((96 * 65536)) ] || fail "the restart downloaded everything again"
echo "restart after truncating a.bin and altering b.bin: resumed $resumed of 96 pieces, downloaded $downloaded bytes, data identical"
echo "resume_kill9.sh: ok"
