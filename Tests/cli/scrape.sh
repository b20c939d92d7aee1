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

# Against a real opentracker (HTTP and UDP on one port), when installed: one seeder announced, both trackers
# report it, and an HTTP tracker without a scrape URL is asked with announce numwant=0 + stopped.
if command -v opentracker >/dev/null; then
  hash=00112233445566778899aabbccddeeff00112233
  otdir="$work/ot"; mkdir -p "$otdir"; chmod 755 "$work" "$otdir"
  echo "$hash" >"$otdir/whitelist"
  otport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  printf 'listen.tcp_udp 127.0.0.1:%s\naccess.whitelist /whitelist\n' "$otport" >"$otdir/conf"
  chmod 644 "$otdir/whitelist" "$otdir/conf"
  timeout 60 opentracker -f "$otdir/conf" -d "$otdir" >/dev/null 2>&1 &
  otpid=$!
  cleanup() { local rc=$?; kill "$otpid" 2>/dev/null || true; wait "$otpid" 2>/dev/null || true; rm -rf "$work"; exit "$rc"; }
  trap cleanup EXIT
  # Announce a seeder once the whitelist is loaded (bounded retries).
  python3 - "$otport" "$hash" <<'PY'
import sys, time, urllib.request
port, h = sys.argv[1], bytes.fromhex(sys.argv[2])
q = "".join("%%%02X" % b for b in h)
url = f"http://127.0.0.1:{port}/announce?info_hash={q}&peer_id=-XX0000-abcdefghijkl&port=7777&uploaded=0&downloaded=0&left=0&event=started&compact=1"
for _ in range(50):
    try:
        body = urllib.request.urlopen(url, timeout=2).read()
        if b"failure" not in body:
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit("opentracker never accepted the announce")
PY
  magnet="magnet:?xt=urn:btih:$hash&tr=http%3A%2F%2F127.0.0.1%3A$otport%2Fannounce&tr=udp%3A%2F%2F127.0.0.1%3A$otport%2Fannounce&tr=http%3A%2F%2F127.0.0.1%3A$otport%2Fannounce%2F"
  # --allow-local: "/announce/" on loopback is a path the SSRF mitigation refuses unless the user trusts it.
  "$NBT" scrape --allow-local --timeout 5 "$magnet" >"$work/out"
  cat "$work/out"
  grep -q "^http://127.0.0.1:$otport/announce: 1 seeders, 0 leechers, 0 completed (scrape)$" "$work/out"
  grep -q "^udp://127.0.0.1:$otport/announce: 1 seeders, 0 leechers, 0 completed (scrape)$" "$work/out"
  # "/announce/" has no scrape convention (BEP 48): the announce fallback (which counts us while it lasts).
  grep -q "^http://127.0.0.1:$otport/announce/: 1 seeders, 1 leechers, .* (announce)$" "$work/out"
elif [ "${NBT_REQUIRE_INTEROP:-}" = 1 ]; then
  echo "FAIL: opentracker missing and NBT_REQUIRE_INTEROP=1"; exit 1
fi
echo "scrape.sh: ok"
