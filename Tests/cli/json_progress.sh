#!/usr/bin/env bash
# `nbt download --json` between local nbt processes on 127.0.0.1 (run by scripts/test with NBT=path to the
# nbt binary): every stdout line is a JSON object, progress records every second carry every field, and
# the other lines are {"message": ...}; on a terminal (through `script`) it draws no bar either.
source "$(dirname "$0")/common.bash"
python=${NBT_PYTHON:-python3}
make_payload data.bin 6
torrent=$work/data.bin.torrent

start_bg "$work/seed" 55 seed "$torrent" "$work/src" --bind 127.0.0.1
port=$(listen_port "$work/seed")
timeout -k 5 40 "$NBT" download "$torrent" -o "$work/dl" --bind 127.0.0.1 --peer "127.0.0.1:$port" \
  --down-limit 2M --json >"$work/dl.out" 2>"$work/dl.err" || fail "download --json exited non-zero: $(cat "$work/dl.err")"
cmp -s "$work/src/data.bin" "$work/dl/data.bin" || fail "--json: the downloaded data differs"
"$python" - "$work/dl.out" <<'PY' || fail "--json output: $(cat "$work/dl.out")"
import json, sys
keys = {"name", "state", "percent", "downloadRate", "uploadRate", "peers", "seeds", "eta", "downloadedBytes",
        "uploadedBytes", "ratio", "verifiedPieces", "pieceCount"}
records, messages = [], []
for line in open(sys.argv[1]):
    obj = json.loads(line)  # every line is JSON
    if "message" in obj:
        messages.append(obj["message"])
    else:
        assert set(obj) == keys, f"record keys {sorted(obj)}"
        records.append(obj)
downloading = [r for r in records if r["state"] == "downloading"]
assert len(downloading) >= 2, f"{len(downloading)} downloading records in a ~3 s download"
assert any(0 < r["percent"] < 100 and r["peers"] == 1 and r["downloadRate"] > 0 for r in downloading), downloading
assert records[-1]["percent"] == 100 and records[-1]["verifiedPieces"] == records[-1]["pieceCount"] == 96
assert any(m.startswith("downloading data.bin (6.0 MiB)") for m in messages), messages
assert any(m.startswith("data.bin: complete, 6.0 MiB") for m in messages), messages
PY

# On a terminal: JSON lines still, no live bar.
timeout -k 5 40 script -qec "'$NBT' download '$torrent' -o '$work/dl2' --bind 127.0.0.1 --peer 127.0.0.1:$port \
  --json" /dev/null >"$work/tty.out" 2>&1 </dev/null || fail "download --json on a terminal failed: $(cat "$work/tty.out")"
! grep -q $'\x1b' "$work/tty.out" || fail "--json on a terminal drew a live line: $(cat -v "$work/tty.out" | head -3)"
tr -d '\r' <"$work/tty.out" | "$python" -c 'import json, sys; [json.loads(l) for l in sys.stdin]' ||
  fail "--json on a terminal printed a line that is not JSON: $(cat -v "$work/tty.out")"
echo "json_progress.sh: ok"
