#!/usr/bin/env bash
# uTP over a bad link (issue 15), with real sockets, inside a network namespace that has only a loopback
# interface. netem is not available here, so the link is a user-space UDP relay (Python, seeded so a run
# repeats) between the downloader and the seed that drops, reorders and duplicates datagrams both ways:
#   1. nbt → nbt, uTP only, 4 MiB through the relay with 3 % loss (each datagram lost at most once: see the
#      relay), 2 % of datagrams held back 30 ms (so they arrive out of order) and 1 % duplicated: the download
#      completes and the bytes are right;
#   2. the same link from a libtorrent seed accepting uTP only, when python3-libtorrent is there;
#   3. a clean pass through the same relay (no loss) for the time beside the lossy one.
# The relay counts what it did; the test fails if it dropped nothing (the loss must really have happened).
# Run by scripts/test with NBT=path to the nbt binary; needs root (unshare): fails when it is missing and
# NBT_REQUIRE_INTEROP=1, else skips.
if [ -z "${NBT_IN_NETNS:-}" ]; then
  if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null || ! command -v ip >/dev/null; then
    [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ] && { echo "FAIL: utp_lossy.sh: needs root, unshare and ip" >&2; exit 1; }
    echo "utp_lossy.sh: skipped (needs root, unshare and ip)"
    exit 0
  fi
  exec unshare --net env NBT_IN_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
source "$(dirname "$0")/common.bash"
[ "$(ip -o link | grep -vc ': lo:')" = 0 ] || fail "the namespace has interfaces besides lo: $(ip -o link)"
python=${NBT_PYTHON:-/usr/bin/python3}

make_payload lossy.bin 4
torrent=$work/lossy.bin.torrent

# start_relay NAME LISTEN_PORT TARGET_PORT LOSS REORDER DUPLICATE: a relay on 127.0.0.3:LISTEN_PORT to
# 127.0.0.1:TARGET_PORT; its counters go to $work/NAME.relay when it is stopped (SIGTERM). PID in $relay_pid.
start_relay() {
  timeout -k 5 120 "$python" - "$2" "$3" "$4" "$5" "$6" "$work/$1.relay" >"$work/$1.relay.out" 2>&1 <<'PY' &
import heapq, random, select, signal, socket, sys, time
listen_port, target_port = int(sys.argv[1]), int(sys.argv[2])
loss, reorder, duplicate = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
report = sys.argv[6]
rng = random.Random(20261207)
front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); front.bind(("127.0.0.3", listen_port))
back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); back.bind(("127.0.0.3", 0))
target, client = ("127.0.0.1", target_port), None
counts = {"forwarded": 0, "dropped": 0, "reordered": 0, "duplicated": 0}
held = []  # (due, sequence, socket, bytes, address)
sequence = 0
def stop(*_):
    with open(report, "w") as f:
        f.write(" ".join(f"{k}={v}" for k, v in counts.items()) + "\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
dropped_once = set()
def send(sock, data, address):
    global sequence
    r = rng.random()
    # A datagram is lost at most once (its retransmission gets through): libtorrent declares a uTP connection
    # dead, silently, when one packet is lost three times (utp_num_resends = 3), which 3 % loss does to about
    # one 4 MiB transfer in twelve.
    key = (sock is back, data[:1], data[16:18] if len(data) >= 20 else b"")
    if r < loss and key in dropped_once:
        r = loss + reorder
    elif r < loss:
        dropped_once.add(key)
    if r < loss:
        counts["dropped"] += 1
        return
    if r < loss + reorder:
        counts["reordered"] += 1
        sequence += 1
        heapq.heappush(held, (time.monotonic() + 0.03, sequence, sock, data, address))
        return
    sock.sendto(data, address)
    counts["forwarded"] += 1
    if r > 1 - duplicate:
        sock.sendto(data, address)
        counts["duplicated"] += 1
while True:
    timeout = max(0, held[0][0] - time.monotonic()) if held else 0.5
    ready, _, _ = select.select([front, back], [], [], timeout)
    for sock in ready:
        data, address = sock.recvfrom(65536)
        if sock is front:
            client = address
            send(back, data, target)
        elif client is not None:
            send(front, data, client)
    while held and held[0][0] <= time.monotonic():
        _, _, sock, data, address = heapq.heappop(held)
        sock.sendto(data, address)
        counts["forwarded"] += 1
PY
  relay_pid=$!
  pids+=("$relay_pid")
  sleep 0.3
}

stop_relay() {
  kill "$relay_pid" 2>/dev/null || true
  wait "$relay_pid" 2>/dev/null || true
}

# download_through NAME RELAY_PORT: downloads the payload over uTP from 127.0.0.3:RELAY_PORT into $work/NAME
# (bounded to 90 s), checks the bytes, prints the seconds it took.
download_through() {
  local status=0 start
  start=$(date +%s.%N)
  timeout -k 5 90 "$NBT" download "$torrent" -o "$work/$1" --bind 127.0.0.2 --port 0 --no-dht \
    --transport utp --peer "127.0.0.3:$2" >"$work/$1.out" 2>"$work/$1.err" || status=$?
  [ "$status" = 0 ] || fail "$1: nbt download over the relay exited $status: $(tail -3 "$work/$1.out") $(tail -5 "$work/$1.err")"
  cmp -s "$work/src/lossy.bin" "$work/$1/lossy.bin" || fail "$1: the downloaded file differs"
  elapsed_since "$start"
}

free_udp_port() {
  "$python" -c "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.3', 0)); print(s.getsockname()[1])"
}

# 1. nbt seed (uTP only) behind the lossy relay.
start_bg "$work/seed" 150 seed "$torrent" "$work/src" --bind 127.0.0.1 --port 0 --no-dht --transport utp
port=$(listen_port "$work/seed")
relay_port=$(free_udp_port)
start_relay clean "$relay_port" "$port" 0 0 0
clean_s=$(download_through dl-clean "$relay_port")
stop_relay
relay_port=$(free_udp_port)
start_relay lossy "$relay_port" "$port" 0.03 0.02 0.01
lossy_s=$(download_through dl-lossy "$relay_port")
stop_relay
lossy_counts=$(cat "$work/lossy.relay")
dropped=$(sed -n 's/.*dropped=\([0-9]*\).*/\1/p' "$work/lossy.relay")
reordered=$(sed -n 's/.*reordered=\([0-9]*\).*/\1/p' "$work/lossy.relay")
[ "${dropped:-0}" -gt 10 ] && [ "${reordered:-0}" -gt 5 ] ||
  fail "the relay hardly disturbed the link (${lossy_counts:-no report}): the test proves nothing"
kill "$last_pid" 2>/dev/null || true

# 2. libtorrent seed accepting uTP only, behind the same kind of relay.
lt_line="skipped (no python3-libtorrent)"
if "$python" -c "import libtorrent" 2>/dev/null; then
  lt_port=$((20000 + RANDOM % 20000))
  timeout -k 5 120 "$python" - "$lt_port" "$torrent" "$work/src" >"$work/lt.out" 2>&1 <<'PY' &
import sys, time
import libtorrent as lt
port, torrent, save = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = lt.session({"listen_interfaces": "127.0.0.1:%d" % port, "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False, "enable_incoming_tcp": False,
                "enable_outgoing_tcp": False, "enable_incoming_utp": True, "enable_outgoing_utp": True,
                "alert_mask": lt.alert.category_t.error_notification})
p = lt.add_torrent_params(); p.ti = lt.torrent_info(torrent); p.save_path = save
h = s.add_torrent(p)
time.sleep(115)
PY
  lt_pid=$!
  pids+=("$lt_pid")
  sleep 2
  relay_port=$(free_udp_port)
  start_relay lt "$relay_port" "$lt_port" 0.03 0.02 0.01
  lt_s=$(download_through dl-lt "$relay_port")
  stop_relay
  lt_line="$lt_s s ($(cat "$work/lt.relay"))"
  kill "$lt_pid" 2>/dev/null || true
elif [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ]; then
  fail "python3-libtorrent is missing"
fi
echo "utp_lossy.sh: ok (4 MiB over uTP through a relay: clean $clean_s s; 3 % loss, 2 % reordered, 1 %" \
  "duplicated: nbt seed $lossy_s s ($lossy_counts), libtorrent seed $lt_line)"
