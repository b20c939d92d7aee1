#!/usr/bin/env bash
# Smoke test of `nbt check FILE.torrent DIR [--json]` against torrents made by libtorrent (v1 and hybrid):
# exit 0 when everything verifies, 1 with the missing piece listed after a byte flip and with the
# incomplete file named, 2 with one line on stderr for a missing torrent or folder.
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
done

# Flip one byte at offset 100000 of a.bin (piece 3 with 32 KiB pieces).
printf '\xff' | dd of="$work/data/a.bin" bs=1 seek=100000 count=1 conv=notrunc status=none
cp "$work/data/a.bin" "$work/a.orig"
status=0; timeout 60 "$NBT" check "$work/v1.torrent" "$work" --json > "$work/out.json" || status=$?
[ "$status" = 1 ] || fail "corrupt data: exit status $status, want 1"
"$python" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["missing"] == [3] and not d["complete"] and d["incompleteFiles"] == ["data/a.bin"], d' "$work/out.json" || fail "missing piece not reported"
status=0; timeout 60 "$NBT" check "$work/v1.torrent" "$work" > "$work/out.txt" || status=$?
[ "$status" = 1 ] && grep -q "data/a.bin" "$work/out.txt" || fail "incomplete file not named"

# Errors: one line on stderr, exit 2.
status=0; "$NBT" check "$work/nope.torrent" "$work" 2> "$work/err.txt" >/dev/null || status=$?
[ "$status" = 2 ] && [ "$(wc -l < "$work/err.txt")" = 1 ] || fail "missing torrent: status $status, stderr $(cat "$work/err.txt")"
status=0; "$NBT" check "$work/v1.torrent" "$work/no-such-folder" 2> "$work/err.txt" >/dev/null || status=$?
[ "$status" = 2 ] && [ "$(wc -l < "$work/err.txt")" = 1 ] || fail "missing folder: status $status"
echo "check.sh: ok"
