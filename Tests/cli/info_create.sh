#!/usr/bin/env bash
# Smoke test of `nbt create` and `nbt info` (run by scripts/test with NBT=path to the nbt binary).
# Creates v1, v2 and hybrid torrents of a small folder, reads them back (text and JSON), cross-checks the
# info-hashes with libtorrent and mktorrent when they are installed, and checks that errors are one line.
set -euo pipefail
matches() { grep "$@" >/dev/null; } # grep -q in a pipeline can SIGPIPE the writer
NBT=${NBT:?set NBT to the nbt binary}
PY=${NBT_PYTHON:-/usr/bin/python3}
here=$(cd "$(dirname "$0")/.." && pwd)
helper="$here/BTMetainfoTests/Fixtures/lt_helper.py"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$work/content/sub"
head -c 300000 /dev/urandom >"$work/content/big.bin"
echo hello >"$work/content/sub/small.txt"
: >"$work/content/empty"

for mode in v1 v2 hybrid; do
  timeout 60 "$NBT" create "$work/content" -o "$work/$mode.torrent" "--$mode" --tracker http://t/announce \
    --web-seed http://seed/ --comment smoke --piece-size 16K >"$work/create.out" 2>"$work/create.err" ||
    fail "nbt create --$mode: $(cat "$work/create.err")"
  [ -s "$work/create.err" ] && fail "nbt create wrote to stderr although it is not a terminal"
  timeout 60 "$NBT" info "$work/$mode.torrent" >"$work/info.txt" || fail "nbt info $mode"
  grep -q "Format: *$mode" "$work/info.txt" || fail "format $mode not shown"
  grep -q "http://t/announce" "$work/info.txt" || fail "tracker not shown"
  grep -q "sub/small.txt" "$work/info.txt" || fail "file not listed"
  timeout 60 "$NBT" info --json "$work/$mode.torrent" >"$work/info.json" || fail "nbt info --json $mode"
  if "$PY" -c "import libtorrent" 2>/dev/null; then
    "$PY" - "$work/info.json" "$mode" <<'PYEOF' || fail "nbt info --json disagrees with libtorrent ($mode)"
import json, sys
import libtorrent as lt
ours = json.load(open(sys.argv[1]))
mode = sys.argv[2]
ti = lt.torrent_info(sys.argv[1].replace("info.json", mode + ".torrent"))
h = ti.info_hashes()
assert (ours["infoHashV1"] or "") == (str(h.v1) if h.has_v1() else ""), ours
assert (ours["infoHashV2"] or "") == (str(h.v2) if h.has_v2() else ""), ours
assert ours["pieceCount"] == ti.num_pieces()
assert ours["comment"] == ti.comment() == "smoke"
PYEOF
    timeout 120 "$PY" "$helper" create "$work/content" "$work/lt-$mode.torrent" --mode "$mode" --piece-size 16384 \
      --tracker http://t/announce --web-seed http://seed/ --comment smoke
    a=$("$NBT" info --json "$work/$mode.torrent" | grep -E '"infoHashV[12]"')
    b=$("$NBT" info --json "$work/lt-$mode.torrent" | grep -E '"infoHashV[12]"')
    [ "$a" = "$b" ] || fail "info-hashes differ from libtorrent's create_torrent ($mode): $a vs $b"
  fi
done

if command -v mktorrent >/dev/null; then
  timeout 60 mktorrent -a http://t/announce -p -o "$work/mk.torrent" "$work/content" >/dev/null
  timeout 60 "$NBT" info --json "$work/mk.torrent" | grep -Eq '"private" ?: ?true' || fail "mktorrent private flag"
fi

magnet='magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=x&tr=http%3A%2F%2Ft%2Fa'
timeout 30 "$NBT" info "$magnet" | matches c12fe1c06bba254a9dc9f519b335aa7c1367a88a || fail "magnet info"

set +e
timeout 30 "$NBT" info "$here/BTMetainfoTests/Corpus/bad/negative_piece_len.torrent" >"$work/out" 2>"$work/err"
status=$?
set -e
[ "$status" -ne 0 ] || fail "bad torrent accepted"
[ "$(wc -l <"$work/err")" -eq 1 ] || fail "error is not one line: $(cat "$work/err")"
grep -q '^nbt: error: ' "$work/err" || fail "error line format: $(cat "$work/err")"
# Hostile names open sanitized, as in libtorrent, and the name on disk is shown beside the given one.
timeout 30 "$NBT" info "$here/BTMetainfoTests/Corpus/bad/parent_path.torrent" >"$work/out" ||
  fail "torrent with .. in a path refused"
grep -qF '_/_/etc/passwd  (given as "../../etc/passwd")' "$work/out" || fail "sanitized name not shown: $(cat "$work/out")"
# libtorrent's 108 test torrents: each opens with libtorrent 2.1's info-hashes and number of files, or is
# refused with one error line, as Fixtures/libtorrent/expected.tsv records.
corpus="$here/BTMetainfoTests/Fixtures/libtorrent"
checked=0
while IFS=$'\t' read -r file outcome v1 v2 count; do
  case "$file" in '#'* | '') continue ;; esac
  if [ "$outcome" = opens ]; then
    timeout 30 "$NBT" info --json "$corpus/$file" >"$work/lt.json" || fail "nbt info refuses $file"
    python3 - "$work/lt.json" "$v1" "$v2" "$count" <<'PYEOF' || fail "nbt info disagrees with libtorrent on $file"
import json, sys
ours = json.load(open(sys.argv[1]))
v1, v2, count = (x if x != "-" else None for x in sys.argv[2:5])
assert ours["infoHashV1"] == v1 and ours["infoHashV2"] == v2 and len(ours["files"]) == int(count), ours
PYEOF
  else
    set +e
    timeout 30 "$NBT" info "$corpus/$file" >"$work/out" 2>"$work/err"
    status=$?
    set -e
    [ "$status" -ne 0 ] || fail "$file opened; libtorrent refuses it"
    [ "$(wc -l <"$work/err")" -eq 1 ] || fail "error for $file is not one line: $(cat "$work/err")"
  fi
  checked=$((checked + 1))
done <"$corpus/expected.tsv"
[ "$checked" -eq 108 ] || fail "checked $checked of libtorrent's 108 test torrents"
echo "info_create.sh: ok"
