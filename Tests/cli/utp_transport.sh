#!/usr/bin/env bash
# `nbt --transport tcp|utp|both` (issue 15) from the command line, inside a network namespace that has only a
# loopback interface (uTP is UDP: nothing may leave the machine):
#   1. a uTP-only seed and a uTP-only downloader: the download completes, so it went over uTP;
#   2. a TCP-only seed and a `both` downloader: the uTP dial finds no one and the download falls back to TCP;
#   3. a libtorrent seed that accepts uTP only (incoming TCP off) and a `both` downloader: completes over uTP;
#   4. a Transmission seed (libutp, `utp-enabled`) and a uTP-only downloader: completes over uTP.
# Run by scripts/test with NBT=path to the nbt binary; needs root (unshare): fails when it is missing and
# NBT_REQUIRE_INTEROP=1, else skips (case 3 also needs python3-libtorrent, case 4 transmission-cli).
if [ -z "${NBT_IN_NETNS:-}" ]; then
  if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null || ! command -v ip >/dev/null; then
    [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ] && { echo "FAIL: utp_transport.sh: needs root, unshare and ip" >&2; exit 1; }
    echo "utp_transport.sh: skipped (needs root, unshare and ip)"
    exit 0
  fi
  exec unshare --net env NBT_IN_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
source "$(dirname "$0")/common.bash"
[ "$(ip -o link | grep -vc ': lo:')" = 0 ] || fail "the namespace has interfaces besides lo: $(ip -o link)"

make_payload utp.bin 4
torrent=$work/utp.bin.torrent

# download_from PORT TRANSPORT NAME: downloads the payload from 127.0.0.1:PORT into $work/NAME with
# --transport TRANSPORT (bounded to 60 s), checks the bytes, prints the time line.
download_from() {
  local status=0
  timeout -k 5 60 "$NBT" download "$torrent" -o "$work/$3" --bind 127.0.0.2 --port 0 --no-dht \
    --transport "$2" --peer "127.0.0.1:$1" >"$work/$3.out" 2>"$work/$3.err" || status=$?
  [ "$status" = 0 ] || fail "$3: nbt download --transport $2 exited $status: $(tail -3 "$work/$3.out") $(cat "$work/$3.err")"
  cmp -s "$work/src/utp.bin" "$work/$3/utp.bin" || fail "$3: the downloaded file differs"
  grep -o 'complete, .*' "$work/$3.out" | tail -1
}

# 1. uTP both ends.
start_bg "$work/seed-utp" 90 seed "$torrent" "$work/src" --bind 127.0.0.1 --port 0 --no-dht --transport utp
port=$(listen_port "$work/seed-utp")
# A uTP-only seed listens on UDP, not TCP: a completed download can only have come over uTP.
ss -ltn "sport = :$port" | matches LISTEN && fail "the uTP-only seed listens on TCP port $port"
ss -lun "sport = :$port" | matches "127.0.0.1:$port" || fail "the uTP-only seed has no UDP socket on $port"
utp_line=$(download_from "$port" utp dl-utp)
kill "$last_pid" 2>/dev/null || true

# 2. A TCP-only seed, a downloader that tries uTP first.
start_bg "$work/seed-tcp" 90 seed "$torrent" "$work/src" --bind 127.0.0.1 --port 0 --no-dht --transport tcp
port=$(listen_port "$work/seed-tcp")
both_line=$(download_from "$port" both dl-both)
kill "$last_pid" 2>/dev/null || true

# 3. libtorrent accepting uTP only.
python=${NBT_PYTHON:-/usr/bin/python3}
lt_line="skipped (no python3-libtorrent)"
if "$python" -c "import libtorrent" 2>/dev/null; then
  lt_port=$((20000 + RANDOM % 20000))
  timeout -k 5 90 "$python" - "$lt_port" "$torrent" "$work/src" >"$work/lt.out" 2>&1 <<'EOF2' &
import sys, time
import libtorrent as lt
port, torrent, save = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = lt.session({"listen_interfaces": "127.0.0.1:%d" % port, "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False, "enable_incoming_tcp": False,
                "enable_outgoing_tcp": False, "enable_incoming_utp": True, "enable_outgoing_utp": True,
                "alert_mask": lt.alert.category_t.error_notification})
p = lt.add_torrent_params(); p.ti = lt.torrent_info(torrent); p.save_path = save
h = s.add_torrent(p)
print("seeding" if h.status().is_seeding else "checking", flush=True)
time.sleep(85)
EOF2
  pids+=("$!")
  lt_pid=$!
  sleep 2
  lt_line=$(download_from "$lt_port" both dl-lt)
  kill "$lt_pid" 2>/dev/null || true
elif [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ]; then
  fail "python3-libtorrent is missing"
fi
# 4. Transmission 3.00 seeding with uTP on (it accepts incoming uTP; we dial it, uTP only).
tr_line="skipped (no transmission-cli)"
if command -v transmission-cli >/dev/null; then
  tr_port=$((20000 + RANDOM % 20000))
  mkdir -p "$work/tr"
  cat >"$work/tr/settings.json" <<EOF2
{"dht-enabled": false, "lpd-enabled": false, "utp-enabled": true, "pex-enabled": false,
 "port-forwarding-enabled": false, "bind-address-ipv4": "127.0.0.1", "peer-port": $tr_port,
 "encryption": 0, "rpc-enabled": false, "speed-limit-up-enabled": false, "speed-limit-down-enabled": false}
EOF2
  timeout -k 5 90 transmission-cli -g "$work/tr" -w "$work/src" -p "$tr_port" "$torrent" >"$work/tr.out" 2>&1 &
  pids+=("$!")
  tr_pid=$!
  sleep 3 # it verifies the 4 MiB before it seeds
  tr_line=$(download_from "$tr_port" utp dl-tr)
  kill "$tr_pid" 2>/dev/null || true
elif [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ]; then
  fail "transmission-cli is missing"
fi
echo "utp_transport.sh: ok (utp↔utp: $utp_line; tcp seed, both: $both_line; libtorrent uTP-only: $lt_line;" \
  "Transmission uTP: $tr_line)"
