#!/usr/bin/env bash
# nbt scrape: bad arguments fail with one line; a torrent whose trackers are unreachable or refused gets one
# line per tracker with its error. Needs $NBT (the debug nbt binary). Only loopback and refused addresses.
set -euo pipefail
: "${NBT:?set NBT to the nbt binary}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Bad arguments: non-zero exit, exactly one line on stderr.
for arg in /nonexistent.torrent "magnet:?dn=no-hash" "magnet:?xt=urn:btih:zz"; do
  if "$NBT" scrape "$arg" >"$work/out" 2>"$work/err"; then echo "FAIL: '$arg' exited 0"; exit 1; fi
  [ "$(wc -l <"$work/err")" -eq 1 ] || { echo "FAIL: '$arg' printed:"; cat "$work/err"; exit 1; }
done

# A magnet with a closed loopback UDP port, a closed HTTP port without scrape, and a private-network tracker.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
magnet="magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&tr=udp%3A%2F%2F127.0.0.1%3A$port%2Fannounce&tr=http%3A%2F%2F127.0.0.1%3A$port%2Ftracker&tr=http%3A%2F%2F192.168.77.1%2Fannounce"
"$NBT" scrape --timeout 2 "$magnet" >"$work/out"
cat "$work/out"
[ "$(wc -l <"$work/out")" -eq 3 ] || { echo "FAIL: expected 3 lines"; exit 1; }
grep -q "^udp://127.0.0.1:$port/announce: error: " "$work/out"
grep -q "^http://127.0.0.1:$port/tracker: error: " "$work/out"
grep -q "^http://192.168.77.1/announce: error: .*policy refuses" "$work/out"
"$NBT" scrape --json --timeout 2 "$magnet" | python3 -c 'import json,sys; rows=json.load(sys.stdin); assert len(rows)==3 and all(r["error"] for r in rows), rows'
echo "scrape.sh: ok"
