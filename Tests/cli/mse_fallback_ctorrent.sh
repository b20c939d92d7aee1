#!/usr/bin/env bash
# Message stream encryption (issue 14) against a plaintext-only client: ctorrent (Enhanced CTorrent 3.3.2, no
# MSE) seeds on its own address and we dial it.
#   1. `nbt download --encryption preferred`: our MSE handshake is dropped, the engine redials in plaintext and
#      the download completes; the log names the failed attempt (reason=mseSyncFailure, seed 002's
#      DISCONNECT_HANDSHAKE_SYNC_DH5), and the capture shows our plaintext handshake of the redial.
#   2. `nbt download --encryption required`: never completes (stopped after 12 s), every attempt ends with
#      reason=mseSyncFailure, no connection is reported, and we never send a plaintext handshake.
# Run by scripts/test with NBT=path to the nbt binary; fails when ctorrent or tcpdump is missing and
# NBT_REQUIRE_INTEROP=1, else skips.
source "$(dirname "$0")/common.bash"
missing=()
for tool in ctorrent tcpdump; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ] && fail "missing programs: ${missing[*]}"
  echo "mse_fallback_ctorrent.sh: skipped (missing ${missing[*]})"
  exit 0
fi
python=${NBT_PYTHON:-/usr/bin/python3}
net="127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1))"
ct_ip=$net.5 preferred_ip=$net.10 required_ip=$net.11

timeout -k 5 120 tcpdump -i lo -U -B 65536 -s 0 -w "$work/wire.pcap" "net $net.0/24" >"$work/tcpdump.out" 2>&1 &
tcpdump_pid=$!
pids+=("$tcpdump_pid")
wait_for "listening on" "$work/tcpdump.out" 10

# A 2 MiB payload; ctorrent wants an announce URL, so the torrent names a tracker that does not exist (a closed
# port on ctorrent's own address): ctorrent keeps serving the peers that dial it.
ct_port=$("$python" -c "import socket,sys; s=socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])" "$ct_ip")
mkdir -p "$work/src" "$work/ct"
head -c $((2 * 1048576)) /dev/urandom >"$work/src/payload.bin"
cp "$work/src/payload.bin" "$work/ct/"
torrent=$work/payload.torrent
"$NBT" create "$work/src/payload.bin" --v1 --piece-size 64K --no-date --tracker "http://$ct_ip:9/announce" \
  -o "$torrent" >/dev/null
# ctorrent (a different address from ours: it takes any peer with its own address for itself); it checks the
# data, then seeds.
timeout -k 5 100 ctorrent -i "$ct_ip" -p "$ct_port" -e 1 -s "$work/ct/payload.bin" "$torrent" >"$work/ct.out" 2>&1 &
pids+=("$!")
for _ in $(seq 1 100); do
  "$python" -c "import socket; socket.create_connection(('$ct_ip', $ct_port), 0.2)" 2>/dev/null && break
  sleep 0.1
done

# wire_handshakes OURS: how many packets from OURS to ctorrent carry "BitTorrent protocol" (ours only: ctorrent
# sends its own plaintext handshake as soon as it accepts a connection, before it reads anything).
wire_handshakes() {
  sleep 0.5  # the last packets reach the capture file
  tcpdump -r "$work/wire.pcap" -w "$work/$1.pcap" "src host $1 and dst host $ct_ip" 2>/dev/null || true
  grep -c -a "BitTorrent protocol" "$work/$1.pcap" || true
}

# 1. preferred: falls back to plaintext and completes.
started=$(date +%s.%N)
timeout -k 5 60 "$NBT" download "$torrent" -o "$work/dl-preferred" --bind "$preferred_ip" --peer "$ct_ip:$ct_port" \
  --encryption preferred --log-level debug >"$work/preferred.out" 2>"$work/preferred.err" ||
  fail "nbt download --encryption preferred from ctorrent failed: $(grep -a "peer " "$work/preferred.err" | tail -3)"
preferred_seconds=$(elapsed_since "$started")
cmp -s "$work/src/payload.bin" "$work/dl-preferred/payload.bin" || fail "the data downloaded from ctorrent differs"
grep -a "peer disconnected" "$work/preferred.err" | head -1 | matches "reason=mseSyncFailure" ||
  fail "the first attempt did not end with reason=mseSyncFailure: $(grep -a "peer " "$work/preferred.err" | head -3)"
grep -aq "peer connected" "$work/preferred.err" || fail "no plaintext connection to ctorrent in the log"
[ "$(wire_handshakes "$preferred_ip")" -ge 1 ] || fail "no plaintext handshake of the redial on the wire"

# 2. required: refuses ctorrent, with the documented reason, and never sends a plaintext handshake.
set +e
timeout -k 5 12 "$NBT" download "$torrent" -o "$work/dl-required" --bind "$required_ip" --peer "$ct_ip:$ct_port" \
  --encryption required --log-level debug >"$work/required.out" 2>"$work/required.err"
required_status=$?
set -e
[ "$required_status" -ne 0 ] || fail "nbt download --encryption required completed from a plaintext-only peer"
! cmp -s "$work/src/payload.bin" "$work/dl-required/payload.bin" 2>/dev/null ||
  fail "nbt download --encryption required got the data from a plaintext-only peer"
attempts=$(grep -ac "peer disconnected" "$work/required.err" || true)
refused=$(grep -a "peer disconnected" "$work/required.err" | grep -c "reason=mseSyncFailure" || true)
[ "$attempts" -ge 1 ] && [ "$refused" = "$attempts" ] ||
  fail "required: $refused of $attempts attempts ended with reason=mseSyncFailure: $(grep -a "peer " "$work/required.err" | head -3)"
! grep -aq "peer connected" "$work/required.err" || fail "required: a connection to ctorrent was reported"
required_plain=$(wire_handshakes "$required_ip")
[ "$required_plain" = 0 ] || fail "required: we sent $required_plain plaintext handshakes to ctorrent"
echo "mse_fallback_ctorrent.sh: ok (preferred fell back to plaintext and completed in $preferred_seconds s;" \
  "required refused ctorrent $attempts times with mseSyncFailure and sent no plaintext handshake)"
