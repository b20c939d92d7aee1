#!/usr/bin/env bash
# Smoke test of `nbt check FILE.torrent DIR [--json] [--mmap]` against torrents made by libtorrent (v1 and
# hybrid): exit 0 when everything verifies, 1 with the missing piece listed after a byte flip and with the
# incomplete file named, 2 with one line on stderr for a missing torrent or folder; `--mmap` gives the same
# verdict as the pread check on the same data (complete, a flipped byte, a short file).
set -euo pipefail
: "${NBT:?set NBT to the nbt binary}"
python=${NBT_PYTHON:-/usr/bin/python3}
if ! "$python" -c "import libtorrent" 2>/dev/null; then
  [ "${NBT_REQUIRE_INTEROP:-}" = 1 ] && { echo "check.sh: python3-libtorrent missing" >&2; exit 1; }
  echo "check.sh: skipped (no python3-libtorrent)"; exit 0
fi
work=$(mktemp -d /tmp/nbt-check-sh.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "check.sh: FAIL: $*" >&2; exit 1; }
# Whether two `--json` outputs give the same verdict (everything but the check's own clock).
same_verdict() {
  "$python" -c 'import json,sys; a,b=(json.load(open(p)) for p in sys.argv[1:]); [d.pop("checkSeconds") for d in (a,b)]; assert a == b, (a, b)' "$1" "$2"
}

mkdir -p "$work/data/sub"
head -c 300000 /dev/urandom > "$work/data/a.bin"
head -c 70000 /dev/urandom > "$work/data/sub/b.bin"
: > "$work/data/empty"
for mode in v1 hybrid; do
  "$python" - "$work" "$mode" <<'PY'
import os, sys
import libtorrent as lt
folder, mode = sys.argv[1], sys.argv[2]
fs = lt.file_storage()
for root, dirs, files in os.walk(os.path.join(folder, "data")):
    dirs.sort()
    for name in sorted(files):
        path = os.path.join(root, name)
        fs.add_file(os.path.relpath(path, folder), os.path.getsize(path))
t = lt.create_torrent(fs, 32768, flags=lt.create_torrent.v1_only if mode == "v1" else 0)
lt.set_piece_hashes(t, folder)
open(os.path.join(folder, mode + ".torrent"), "wb").write(lt.bencode(t.generate()))
PY
  timeout 60 "$NBT" check "$work/$mode.torrent" "$work" > "$work/out.txt" || fail "$mode: complete data did not verify"
  grep -q "complete" "$work/out.txt" || fail "$mode: no completeness line"
  timeout 60 "$NBT" check "$work/$mode.torrent" "$work" --json > "$work/out.json" || fail "$mode: --json exit status"
  "$python" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["complete"] and not d["missing"] and len(d["verified"]) == d["pieces"], d' "$work/out.json" || fail "$mode: json"
  timeout 60 "$NBT" check "$work/$mode.torrent" "$work" --json --mmap > "$work/mmap.json" || fail "$mode: --mmap: complete data did not verify"
  same_verdict "$work/out.json" "$work/mmap.json" || fail "$mode: --mmap and pread disagree"
done

# Flip one byte at offset 100000 of a.bin (piece 3 with 32 KiB pieces).
printf '\xff' | dd of="$work/data/a.bin" bs=1 seek=100000 count=1 conv=notrunc status=none
cp "$work/data/a.bin" "$work/a.orig"
status=0; timeout 60 "$NBT" check "$work/v1.torrent" "$work" --json > "$work/out.json" || status=$?
[ "$status" = 1 ] || fail "corrupt data: exit status $status, want 1"
"$python" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["missing"] == [3] and not d["complete"] and d["incompleteFiles"] == ["data/a.bin"], d' "$work/out.json" || fail "missing piece not reported"
status=0; timeout 60 "$NBT" check "$work/v1.torrent" "$work" > "$work/out.txt" || status=$?
[ "$status" = 1 ] && grep -q "data/a.bin" "$work/out.txt" || fail "incomplete file not named"
# The same corrupt data, mapped (--mmap): the same verdict and exit status as the pread check above (the
# control), for the v1 and the hybrid torrent; and with b.bin cut short, both call its pieces missing.
for mode in v1 hybrid; do
  status=0; timeout 60 "$NBT" check "$work/$mode.torrent" "$work" --json > "$work/read.json" || status=$?
  [ "$status" = 1 ] || fail "$mode corrupt data, pread: exit status $status, want 1"
  status=0; timeout 60 "$NBT" check "$work/$mode.torrent" "$work" --json --mmap > "$work/mmap.json" || status=$?
  [ "$status" = 1 ] || fail "$mode corrupt data, --mmap: exit status $status, want 1"
  same_verdict "$work/read.json" "$work/mmap.json" || fail "$mode corrupt data: --mmap and pread disagree"
done
cp "$work/data/sub/b.bin" "$work/b.orig"
truncate -s 40000 "$work/data/sub/b.bin"
status=0; timeout 60 "$NBT" check "$work/v1.torrent" "$work" --json --mmap > "$work/mmap.json" || status=$?
[ "$status" = 1 ] || fail "short file, --mmap: exit status $status, want 1"
timeout 60 "$NBT" check "$work/v1.torrent" "$work" --json > "$work/read.json" || true
same_verdict "$work/read.json" "$work/mmap.json" || fail "short file: --mmap and pread disagree"
"$python" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "data/sub/b.bin" in d["incompleteFiles"] and len(d["missing"]) > 1, d' "$work/mmap.json" || fail "short file: --mmap did not name it"
cp "$work/b.orig" "$work/data/sub/b.bin"

# Errors: one line on stderr, exit 2.
status=0; "$NBT" check "$work/nope.torrent" "$work" 2> "$work/err.txt" >/dev/null || status=$?
[ "$status" = 2 ] && [ "$(wc -l < "$work/err.txt")" = 1 ] || fail "missing torrent: status $status, stderr $(cat "$work/err.txt")"
status=0; "$NBT" check "$work/v1.torrent" "$work/no-such-folder" 2> "$work/err.txt" >/dev/null || status=$?
[ "$status" = 2 ] && [ "$(wc -l < "$work/err.txt")" = 1 ] || fail "missing folder: status $status"
echo "check.sh: ok"
