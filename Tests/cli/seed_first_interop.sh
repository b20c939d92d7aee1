#!/usr/bin/env bash
# Our seed started before its leechers (issue 11), each program bound to its own 127.x address, with a real
# tracker (opentracker): `nbt seed --bind A` announces from A, and then a libtorrent, an aria2, an rtorrent
# and a Transmission leecher start, each on its own address, and each must end with the whole payload.
#   - libtorrent, aria2 and rtorrent learn the seed only from the tracker and dial it: they reach it only if
#     the tracker lists it at the address it is bound to (an announce from 127.0.0.1 would list a closed
#     port) and the seed accepts them.
#   - Transmission 3.00 never dials loopback peers, so the seed is given Transmission's address with --peer
#     when it starts, seconds before Transmission listens: the seed reaches it only by redialling a failed
#     dial with back-off.
# Run by scripts/test with NBT=path to the nbt binary; fails when a peer program is missing and
# NBT_REQUIRE_INTEROP=1, else skips.
source "$(dirname "$0")/common.bash"

missing=()
for tool in opentracker aria2c rtorrent transmission-cli; do command -v "$tool" >/dev/null || missing+=("$tool"); done
python=${NBT_PYTHON:-/usr/bin/python3}
"$python" -c "import libtorrent" 2>/dev/null || missing+=("python3-libtorrent")
if [ ${#missing[@]} -gt 0 ]; then
  [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ] && fail "missing peer programs: ${missing[*]}"
  echo "seed_first_interop.sh: skipped (missing ${missing[*]})"
  exit 0
fi

# Fresh addresses per run (Transmission remembers peers by address): 127.N.M.x.
net="127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1))"
tracker_ip=$net.2 seed_ip=$net.10 lt_ip=$net.11 aria_ip=$net.12 rt_ip=$net.13 tr_ip=$net.14

# free_port IP: a port free for TCP and UDP on IP right now.
free_port() {
  "$python" - "$1" <<'EOF'
import socket, sys
for _ in range(50):
    t = socket.socket(); t.bind((sys.argv[1], 0)); port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind((sys.argv[1], port)); print(port); break
    except OSError:
        pass
    finally:
        t.close(); u.close()
EOF
}

# A 3 MiB payload in a v1 torrent that names the tracker.
tracker_port=$(free_port "$tracker_ip")
mkdir -p "$work/src"
head -c $((3 * 1048576)) /dev/urandom >"$work/src/payload.bin"
torrent=$work/payload.torrent
"$NBT" create "$work/src/payload.bin" --v1 --piece-size 64K --no-date \
  --tracker "http://$tracker_ip:$tracker_port/announce" -o "$torrent" >/dev/null
infohash=$("$NBT" info "$torrent" --json | "$python" -c "import json,sys; print(json.load(sys.stdin)[\"infoHashV1\"])")
[ ${#infohash} -eq 40 ] || fail "no v1 info-hash for $torrent: '$infohash'"

start_opentracker "$tracker_ip" "$tracker_port" "$infohash" 150

# The seed first: bound to its own address, told Transmission's future address.
tr_port=$(free_port "$tr_ip")
start_bg "$work/seed" 150 seed "$torrent" "$work/src" --bind "$seed_ip" --peer "$tr_ip:$tr_port" \
  --allow-local-trackers --log-level info
seed_port=$(listen_port "$work/seed")
# Its `started` announce is in before any leecher asks the tracker (the tracker lists a seeder).
for _ in $(seq 1 100); do
  "$NBT" scrape "$torrent" --allow-local --json 2>/dev/null | matches '"seeders" *: *[1-9]' && break
  sleep 0.2
done
"$NBT" scrape "$torrent" --allow-local --json 2>/dev/null | matches '"seeders" *: *[1-9]' ||
  fail "the tracker does not list the seed: $("$NBT" scrape "$torrent" --allow-local 2>&1)"
sleep 3  # the leechers start later than the seed, as in real use

# wait_complete DIR NAME PID: waits (up to 100 s) until DIR/payload.bin equals the payload, then stops PID (its
# process group's leader) so the next leecher can only get the data from the seed; prints the seconds taken.
wait_complete() {
  local started=$(date +%s)
  while [ $(($(date +%s) - started)) -lt 100 ]; do
    if cmp -s "$work/src/payload.bin" "$1/payload.bin" 2>/dev/null; then
      kill "$3" 2>/dev/null || true
      wait "$3" 2>/dev/null || true
      echo $(($(date +%s) - started))
      return 0
    fi
    sleep 0.5
  done
  echo "no"
}

# One leecher at a time, each alone with the seed (a leecher that has the payload is stopped before the next
# starts), so every one of them gets every byte from our seed.
# libtorrent: peers from the tracker only.
mkdir -p "$work/lt"
timeout -k 5 120 "$python" - "$lt_ip" "$torrent" "$work/lt" >"$work/lt.out" 2>&1 <<'EOF2' &
import sys, time
import libtorrent as lt
ip, torrent, save = sys.argv[1:4]
s = lt.session({"listen_interfaces": ip + ":0", "outgoing_interfaces": ip, "enable_dht": False,
                "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
                "enable_outgoing_utp": False, "enable_incoming_utp": False,
                "alert_mask": lt.alert.category_t.error_notification})
p = lt.add_torrent_params(); p.ti = lt.torrent_info(torrent); p.save_path = save
h = s.add_torrent(p)
time.sleep(110)
EOF2
pids+=("$!")
lt_seconds=$(wait_complete "$work/lt" libtorrent "$!")

# aria2: bound to its address.
timeout -k 5 120 aria2c --interface="$aria_ip" --listen-port="$(free_port "$aria_ip")" --enable-dht=false \
  --bt-enable-lpd=false --enable-peer-exchange=false --seed-time=1000 --summary-interval=0 \
  --console-log-level=warn --dir="$work/aria" "$torrent" >"$work/aria.out" 2>&1 &
pids+=("$!")
aria_seconds=$(wait_complete "$work/aria" aria2 "$!")

# rtorrent: headless (daemon mode) with an rc file, bound to its address.
mkdir -p "$work/rt/session" "$work/rt/data"
rt_port=$(free_port "$rt_ip")
cat >"$work/rt/rtorrent.rc" <<EOF2
system.daemon.set = true
network.bind_address.set = $rt_ip
network.local_address.set = $rt_ip
network.port_range.set = $rt_port-$rt_port
network.port_random.set = no
dht.mode.set = disable
protocol.pex.set = no
trackers.use_udp.set = no
session.path.set = $work/rt/session
directory.default.set = $work/rt/data
load.start = $torrent
EOF2
HOME=$work/rt timeout -k 5 120 rtorrent -n -o "import=$work/rt/rtorrent.rc" >"$work/rt.out" 2>&1 &
pids+=("$!")
rt_seconds=$(wait_complete "$work/rt/data" rtorrent "$!")

# Transmission: listens on its address; only the seed's redials can reach it.
mkdir -p "$work/tr/config" "$work/tr/data"
cat >"$work/tr/config/settings.json" <<EOF2
{"dht-enabled": false, "lpd-enabled": false, "utp-enabled": false, "pex-enabled": false,
 "port-forwarding-enabled": false, "bind-address-ipv4": "$tr_ip", "peer-port": $tr_port,
 "encryption": 0, "rpc-enabled": false, "rename-partial-files": false, "incomplete-dir-enabled": false,
 "download-dir": "$work/tr/data", "speed-limit-down-enabled": false, "speed-limit-up-enabled": false}
EOF2
timeout -k 5 120 transmission-cli -g "$work/tr/config" -w "$work/tr/data" -p "$tr_port" -et "$torrent" \
  >"$work/tr.out" 2>&1 &
pids+=("$!")
tr_seconds=$(wait_complete "$work/tr/data" Transmission "$!")

report="libtorrent $lt_seconds s, aria2 $aria_seconds s, rtorrent $rt_seconds s, Transmission $tr_seconds s"
for seconds in "$lt_seconds" "$aria_seconds" "$rt_seconds" "$tr_seconds"; do
  [ "$seconds" != no ] || fail "not every leecher completed ($report); seed: $(tail -5 "$work/seed.out"); libtorrent: $(cat "$work/lt.out"); aria2: $(tail -5 "$work/aria.out"); rtorrent: $(tail -5 "$work/rt.out"); Transmission: $(tail -3 "$work/tr.out")"
done
# Every byte came from the seed: it uploaded the payload four times. Its status line (with the ratio) comes
# every 5 seconds, so wait up to 12 s for the line that counts Transmission's bytes.
ratio=0
for _ in $(seq 1 24); do
  ratio=$(sed -n 's/.*ratio \([0-9.]*\).*/\1/p' "$work/seed.out" | tail -1)
  awk -v r="${ratio:-0}" 'BEGIN { exit !(r >= 3.95) }' && break
  sleep 0.5
done
awk -v r="$ratio" 'BEGIN { exit !(r >= 3.95) }' || fail "the seed's ratio is $ratio, not 4 ($report)"
echo "seed_first_interop.sh: ok (seed at $seed_ip:$seed_port, ratio $ratio; $report)"
