#!/usr/bin/env bash
# Message stream encryption (issue 14) against the independent clients, each with encryption forced on its side
# and `--encryption required` on ours, each program on its own 127.N.M.x address, data both ways:
#   - Transmission 3.00 (`"encryption": 2`): it seeds and we dial it; it leeches and our seed dials it (it never
#     dials loopback peers itself).
#   - rtorrent (`protocol.encryption.set = allow_incoming,try_outgoing,require,require_RC4`): it seeds and we
#     dial it; it leeches and dials our seed, which it learns from a real tracker (opentracker).
#   - aria2 (`--bt-require-crypto=true --bt-min-crypto-level=arc4`): the same as rtorrent.
# So our MSE runs as the initiator against all three and as the responder against rtorrent and aria2 (and
# against libtorrent in mse_libtorrent.sh). Every case is checked on the wire: loopback is captured with tcpdump
# for the whole run, and the traffic between our address and the client's must carry the payload and never
# the bytes "BitTorrent protocol" (a plaintext handshake, or a handshake sent after MSE chose plaintext).
# Run by scripts/test with NBT=path to the nbt binary; fails when a program is missing and NBT_REQUIRE_INTEROP=1,
# else skips.
source "$(dirname "$0")/common.bash"

missing=()
for tool in opentracker aria2c rtorrent transmission-cli tcpdump; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
python=${NBT_PYTHON:-/usr/bin/python3}
if [ ${#missing[@]} -gt 0 ]; then
  [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ] && fail "missing programs: ${missing[*]}"
  echo "mse_matrix.sh: skipped (missing ${missing[*]})"
  exit 0
fi

# Fresh addresses per run (Transmission remembers peers by address): 127.N.M.x, one per program and role.
net="127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1))"
tracker_ip=$net.2
mib=2

# free_port IP: a TCP port free on IP right now.
free_port() {
  "$python" -c "import socket,sys; s=socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])" "$1"
}

# stop PID: stops a background program (its own PID too: peers may ignore the SIGTERM `timeout` forwards).
stop() {
  kill "$1" 2>/dev/null || true
  sleep 0.2
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# The whole run on loopback, for this run's addresses only, written packet by packet (-U), with a 64 MiB
# capture buffer (-B): on the loaded 2-core machine the default one dropped packets.
timeout -k 5 400 tcpdump -i lo -U -B 65536 -s 0 -w "$work/wire.pcap" "net $net.0/24" >"$work/tcpdump.out" 2>&1 &
tcpdump_pid=$!
pids+=("$tcpdump_pid")
wait_for "listening on" "$work/tcpdump.out" 10

# A 2 MiB payload in a v1 torrent that names the tracker.
tracker_port=$(free_port "$tracker_ip")
mkdir -p "$work/src"
head -c $((mib * 1048576)) /dev/urandom >"$work/src/payload.bin"
torrent=$work/payload.torrent
"$NBT" create "$work/src/payload.bin" --v1 --piece-size 64K --no-date \
  --tracker "http://$tracker_ip:$tracker_port/announce" -o "$torrent" >/dev/null
infohash=$("$NBT" info "$torrent" --json | "$python" -c "import json,sys; print(json.load(sys.stdin)[\"infoHashV1\"])")
[ ${#infohash} -eq 40 ] || fail "no v1 info-hash for $torrent: '$infohash'"

start_opentracker "$tracker_ip" "$tracker_port" "$infohash" 400

results=()
# check_wire NAME OURS THEIRS: the traffic between OURS and THEIRS was captured (at least 90 % of the payload's
# size: the kernel may still drop a few packets under load) and carried no plaintext BitTorrent handshake.
check_wire() {
  local pair=$work/$1.pcap bytes plain
  sleep 0.5  # the last packets reach the capture file
  tcpdump -r "$work/wire.pcap" -w "$pair" "host $2 and host $3" 2>/dev/null || true
  bytes=$(stat -c %s "$pair")
  [ "$bytes" -ge $((mib * 1048576 * 9 / 10)) ] || fail "$1: only $bytes bytes captured between $2 and $3"
  plain=$(grep -c -a "BitTorrent protocol" "$pair" || true)
  [ "$plain" = 0 ] || fail "$1: a plaintext 'BitTorrent protocol' handshake between $2 and $3 on the wire"
  results+=("$1 ok (${bytes} B captured, no plaintext handshake)")
}

# wait_file DIR SECONDS: waits until DIR/payload.bin equals the payload; returns 1 after SECONDS.
wait_file() {
  local started=$(date +%s)
  while [ $(($(date +%s) - started)) -lt "$2" ]; do
    cmp -s "$work/src/payload.bin" "$1/payload.bin" 2>/dev/null && return 0
    sleep 0.5
  done
  return 1
}

# nbt_download NAME IP PEER: `nbt download --encryption required` from PEER, bound to IP (≤ 60 s).
nbt_download() {
  timeout -k 5 60 "$NBT" download "$torrent" -o "$work/$1" --bind "$2" --peer "$3" --encryption required \
    --log-level debug >"$work/$1.out" 2>"$work/$1.err" ||
    fail "$1: nbt download --encryption required from $3 failed: $(grep -a "disconnected" "$work/$1.err" | tail -3)"
  cmp -s "$work/src/payload.bin" "$work/$1/payload.bin" || fail "$1: the data downloaded over RC4 differs"
}

# --- Transmission: "encryption": 2 (required) ----------------------------------------------------------
transmission() {  # NAME IP PORT DATA_DIR
  mkdir -p "$work/$1/config" "$4"
  cat >"$work/$1/config/settings.json" <<EOF
{"dht-enabled": false, "lpd-enabled": false, "utp-enabled": false, "pex-enabled": false,
 "port-forwarding-enabled": false, "bind-address-ipv4": "$2", "peer-port": $3,
 "encryption": 2, "rpc-enabled": false, "rename-partial-files": false, "incomplete-dir-enabled": false,
 "download-dir": "$4", "speed-limit-down-enabled": false, "speed-limit-up-enabled": false}
EOF
  timeout -k 5 60 transmission-cli -g "$work/$1/config" -w "$4" -p "$3" -er "$torrent" >"$work/$1.out" 2>&1 &
  last_pid=$!
  pids+=("$last_pid")
  for _ in $(seq 1 100); do
    "$python" -c "import socket; socket.create_connection(('$2', $3), 0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "$1: Transmission does not listen on $2:$3: $(tail -3 "$work/$1.out")"
}

# Transmission seeds (it checks the data first), we download.
tr_ip=$net.20 ours=$net.30
tr_port=$(free_port "$tr_ip")
mkdir -p "$work/tr-seed-data" && cp "$work/src/payload.bin" "$work/tr-seed-data/"
transmission tr-seed "$tr_ip" "$tr_port" "$work/tr-seed-data"
tr_pid=$last_pid
sleep 2  # its verification of the 2 MiB
nbt_download tr-dl "$ours" "$tr_ip:$tr_port"
stop "$tr_pid"
check_wire "Transmission→nbt" "$ours" "$tr_ip"

# Transmission leeches, our seed dials it.
tr_ip=$net.21 ours=$net.31
tr_port=$(free_port "$tr_ip")
transmission tr-leech "$tr_ip" "$tr_port" "$work/tr-leech-data"
tr_pid=$last_pid
start_bg "$work/seed-tr" 60 seed "$torrent" "$work/src" --bind "$ours" --peer "$tr_ip:$tr_port" \
  --encryption required --log-level debug
seed_pid=$last_pid
wait_file "$work/tr-leech-data" 55 ||
  fail "Transmission (encryption required) did not download from our seed: $(tail -3 "$work/tr-leech.out"); seed: $(grep -a disconnected "$work/seed-tr.err" | tail -3)"
stop "$tr_pid"
stop "$seed_pid"
check_wire "nbt→Transmission" "$ours" "$tr_ip"

# --- rtorrent: require, require_RC4 ------------------------------------------------------------------------
rtorrent_run() {  # NAME IP PORT DATA_DIR
  mkdir -p "$work/$1/session" "$4"
  cat >"$work/$1/rtorrent.rc" <<EOF
system.daemon.set = true
network.bind_address.set = $2
network.local_address.set = $2
network.port_range.set = $3-$3
network.port_random.set = no
dht.mode.set = disable
protocol.pex.set = no
trackers.use_udp.set = no
protocol.encryption.set = allow_incoming,try_outgoing,require,require_RC4
session.path.set = $work/$1/session
directory.default.set = $4
load.start = $torrent
EOF
  HOME=$work/$1 timeout -k 5 60 rtorrent -n -o "import=$work/$1/rtorrent.rc" >"$work/$1.out" 2>&1 &
  last_pid=$!
  pids+=("$last_pid")
}

# rtorrent seeds (it checks the data, then announces), we dial it.
rt_ip=$net.40 ours=$net.50
rt_port=$(free_port "$rt_ip")
mkdir -p "$work/rt-seed-data" && cp "$work/src/payload.bin" "$work/rt-seed-data/"
rtorrent_run rt-seed "$rt_ip" "$rt_port" "$work/rt-seed-data"
rt_pid=$last_pid
for _ in $(seq 1 100); do
  "$python" -c "import socket; socket.create_connection(('$rt_ip', $rt_port), 0.2)" 2>/dev/null && break
  sleep 0.1
done
sleep 1  # its hash check of the 2 MiB
nbt_download rt-dl "$ours" "$rt_ip:$rt_port"
stop "$rt_pid"
check_wire "rtorrent→nbt" "$ours" "$rt_ip"

# Our seed announces to the tracker; rtorrent leeches and dials it.
ours=$net.51 rt_ip=$net.41
start_bg "$work/seed-rt" 60 seed "$torrent" "$work/src" --bind "$ours" --allow-local-trackers \
  --encryption required --log-level debug
seed_pid=$last_pid
listen_port "$work/seed-rt" >/dev/null
sleep 1  # its `started` announce
rtorrent_run rt-leech "$rt_ip" "$(free_port "$rt_ip")" "$work/rt-leech-data"
rt_pid=$last_pid
wait_file "$work/rt-leech-data" 55 ||
  fail "rtorrent (require_RC4) did not download from our seed; seed: $(grep -a disconnected "$work/seed-rt.err" | tail -3)"
stop "$rt_pid"
stop "$seed_pid"
check_wire "nbt→rtorrent" "$ours" "$rt_ip"

# --- aria2: --bt-require-crypto=true --bt-min-crypto-level=arc4 ---------------------------------------------
aria2_run() {  # NAME IP PORT DATA_DIR [OPTIONS...]
  local name=$1 ip=$2 port=$3 dir=$4
  shift 4
  timeout -k 5 60 aria2c --interface="$ip" --listen-port="$port" --enable-dht=false --bt-enable-lpd=false \
    --enable-peer-exchange=false --bt-require-crypto=true --bt-min-crypto-level=arc4 --summary-interval=0 \
    --console-log-level=warn --dir="$dir" "$@" "$torrent" >"$work/$name.out" 2>&1 &
  last_pid=$!
  pids+=("$last_pid")
}

# aria2 seeds (it checks the data), we dial it.
ar_ip=$net.60 ours=$net.70
ar_port=$(free_port "$ar_ip")
mkdir -p "$work/ar-seed-data" && cp "$work/src/payload.bin" "$work/ar-seed-data/"
aria2_run ar-seed "$ar_ip" "$ar_port" "$work/ar-seed-data" --check-integrity=true --seed-ratio=0.0
ar_pid=$last_pid
for _ in $(seq 1 100); do
  "$python" -c "import socket; socket.create_connection(('$ar_ip', $ar_port), 0.2)" 2>/dev/null && break
  sleep 0.1
done
sleep 1
nbt_download ar-dl "$ours" "$ar_ip:$ar_port"
stop "$ar_pid"
check_wire "aria2→nbt" "$ours" "$ar_ip"

# Our seed announces to the tracker; aria2 leeches and dials it.
ours=$net.71 ar_ip=$net.61
start_bg "$work/seed-ar" 60 seed "$torrent" "$work/src" --bind "$ours" --allow-local-trackers \
  --encryption required --log-level debug
seed_pid=$last_pid
listen_port "$work/seed-ar" >/dev/null
sleep 1  # its `started` announce
aria2_run ar-leech "$ar_ip" "$(free_port "$ar_ip")" "$work/ar-leech-data" --seed-time=0
ar_pid=$last_pid
wait_file "$work/ar-leech-data" 55 ||
  fail "aria2 (require crypto, arc4) did not download from our seed: $(tail -3 "$work/ar-leech.out"); seed: $(grep -a disconnected "$work/seed-ar.err" | tail -3)"
stop "$ar_pid"
stop "$seed_pid"
check_wire "nbt→aria2" "$ours" "$ar_ip"

stop "$tcpdump_pid"
summary=$(printf '%s; ' "${results[@]}")
echo "mse_matrix.sh: ok (${summary%; })"
