#!/usr/bin/env bash
# Magnet links (BEP 9) against real clients, each program on its own 127.N.M.x address, no tracker, no DHT:
#   (a) `nbt download MAGNET` fetches the metadata from, then downloads from, a libtorrent seeder, an aria2
#       seeder and a Transmission seeder (v1), and a libtorrent seeder of a hybrid torrent (btih + btmh),
#       with the magnet's x.pe as the only source of peers; the .torrent it writes with --save-torrent has
#       the original info dictionary byte for byte;
#   (b) libtorrent, given only our `nbt seed` as a peer, downloads by magnet: it fetches the metadata from us;
#       and so does `nbt download MAGNET` (our two ends);
#   (c) Transmission and aria2 download by magnet from our seed, which dials them.
# Run by scripts/test with NBT=path to the nbt binary; fails when a peer program is missing and
# NBT_REQUIRE_INTEROP=1, else skips. Every program is bounded by `timeout` and killed by PID at the end.
source "$(dirname "$0")/common.bash"

missing=()
for tool in aria2c transmission-cli; do command -v "$tool" >/dev/null || missing+=("$tool"); done
python=${NBT_PYTHON:-/usr/bin/python3}
"$python" -c "import libtorrent" 2>/dev/null || missing+=("python3-libtorrent")
if [ ${#missing[@]} -gt 0 ]; then
  [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ] && fail "missing peer programs: ${missing[*]}"
  echo "magnet_interop.sh: skipped (missing ${missing[*]})"
  exit 0
fi

# Fresh addresses per run (Transmission remembers peers by address).
net="127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1))"
lt_ip=$net.2 aria_ip=$net.3 tr_ip=$net.4 lt_hybrid_ip=$net.5 nbt_ip=$net.10 lt_leech_ip=$net.11 dl_ip=$net.12

# free_port IP: a TCP port free on IP right now.
free_port() {
  "$python" -c 'import socket, sys; s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$1"
}

make_payload data.bin 3
torrent=$work/data.bin.torrent
infohash=$("$NBT" info "$torrent" --json | "$python" -c 'import json, sys; print(json.load(sys.stdin)["infoHashV1"])')
[ ${#infohash} -eq 40 ] || fail "no v1 info-hash for $torrent: '$infohash'"

# same_info A B: whether two .torrent files have byte-identical info dictionaries.
same_info() {
  "$python" - "$1" "$2" <<'EOF'
import sys
import libtorrent as lt
a, b = (lt.bdecode(open(path, 'rb').read()) for path in sys.argv[1:3])
sys.exit(0 if lt.bencode(a[b'info']) == lt.bencode(b[b'info']) else 1)
EOF
}

# magnet_download LABEL HOST PORT [MAGNET TORRENT]: `nbt download` of the magnet (default: the v1 one) with
# x.pe=HOST:PORT only; checks the data and that the saved .torrent has TORRENT's info dictionary; prints the
# seconds it took.
magnet_download() {
  local label=$1 start original=${5:-$torrent}
  local magnet="${4:-magnet:?xt=urn:btih:$infohash&dn=data.bin}&x.pe=$2:$3"
  start=$(date +%s.%N)
  timeout -k 5 90 "$NBT" download "$magnet" -o "$work/dl-$label" --bind "$dl_ip" --no-dht \
    --save-torrent "$work/$label.torrent" --log-level info >"$work/dl-$label.out" 2>"$work/dl-$label.err" ||
    fail "nbt download of the magnet from $label failed: $(tail -n 5 "$work/dl-$label.out" "$work/dl-$label.err")"
  elapsed_since "$start"
  cmp -s "$work/src/data.bin" "$work/dl-$label/data.bin" || fail "the data downloaded from $label differs"
  grep -q "^metadata received: data.bin" "$work/dl-$label.out" ||
    fail "no 'metadata received' line from $label: $(cat "$work/dl-$label.out")"
  same_info "$original" "$work/$label.torrent" || fail "the .torrent saved from $label has another info dictionary"
}

# The libtorrent side: `seed DIR` seeds the torrent on lt_ip and prints its port; `magnet HOST PORT DIR` adds
# the magnet with only HOST:PORT as peer and prints progress until it is a seed. Bounded: exits after 80 s.
cat >"$work/lt.py" <<'EOF'
import json, sys, time
import libtorrent as lt
mode, ip = sys.argv[1:3]
s = lt.session({'listen_interfaces': ip + ':0', 'outgoing_interfaces': ip, 'enable_dht': False,
                'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False, 'enable_outgoing_utp': False,
                'enable_incoming_utp': False, 'alert_mask': lt.alert.category_t.error_notification})
start = time.time()
if mode == 'seed':
    p = lt.add_torrent_params(); p.ti = lt.torrent_info(sys.argv[3]); p.save_path = sys.argv[4]
    h = s.add_torrent(p)
    while time.time() < start + 30 and not h.status().is_seeding:
        time.sleep(0.1)
    print(json.dumps({'port': s.listen_port(), 'seeding': h.status().is_seeding}), flush=True)
    while time.time() < start + 80:
        time.sleep(0.5)
else:
    host, port, save = sys.argv[3], int(sys.argv[4]), sys.argv[6]
    p = lt.parse_magnet_uri(sys.argv[5]); p.save_path = save
    h = s.add_torrent(p)
    h.connect_peer((host, port))
    while time.time() < start + 80:
        st = h.status()
        print(json.dumps({'t': round(time.time() - start, 2), 'metadata': st.has_metadata,
                          'progress': st.progress, 'peers': st.num_peers, 'seeding': st.is_seeding}), flush=True)
        if st.is_seeding:
            break
        if not st.has_metadata:
            h.connect_peer((host, port))
        time.sleep(0.2)
EOF

# (a1) libtorrent seeds; we download by magnet.
timeout -k 5 90 "$python" "$work/lt.py" seed "$lt_ip" "$torrent" "$work/src" >"$work/lt-seed.out" 2>&1 &
pids+=("$!")
wait_for '"port"' "$work/lt-seed.out" 30
lt_port=$(sed -n 's/.*"port": \([0-9]*\).*/\1/p' "$work/lt-seed.out")
lt_seconds=$(magnet_download libtorrent "$lt_ip" "$lt_port")

# (a2) aria2 seeds (it checks the data first); we download by magnet.
aria_port=$(free_port "$aria_ip")
timeout -k 5 90 aria2c --interface="$aria_ip" --listen-port="$aria_port" --enable-dht=false --bt-enable-lpd=false \
  --enable-peer-exchange=false --seed-ratio=0.0 --check-integrity=true --summary-interval=0 \
  --console-log-level=warn --dir="$work/src" "$torrent" >"$work/aria.out" 2>&1 &
pids+=("$!")
aria_seconds=$(magnet_download aria2 "$aria_ip" "$aria_port")

# (a3) Transmission seeds (it accepts incoming connections; it never dials loopback); we download by magnet.
tr_port=$(free_port "$tr_ip")
mkdir -p "$work/tr/config"
cat >"$work/tr/config/settings.json" <<EOF2
{"bind-address-ipv4": "$tr_ip", "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false,
 "utp-enabled": false, "port-forwarding-enabled": false, "encryption": 1, "peer-port": $tr_port,
 "download-dir": "$work/src", "speed-limit-down-enabled": false, "speed-limit-up-enabled": false}
EOF2
timeout -k 5 90 transmission-cli -g "$work/tr/config" -w "$work/src" -p "$tr_port" "$torrent" >"$work/tr.out" 2>&1 &
pids+=("$!")
sleep 3
tr_seconds=$(magnet_download transmission "$tr_ip" "$tr_port")

# (a4) libtorrent seeds a hybrid torrent (v1 + v2); we download by its magnet (btih and btmh).
"$NBT" create "$work/src/data.bin" --hybrid --no-date -o "$work/hybrid.torrent" >/dev/null
hybrid_magnet=$("$NBT" info "$work/hybrid.torrent" --json | "$python" -c 'import json, sys; print(json.load(sys.stdin)["magnet"])')
case "$hybrid_magnet" in *urn:btih:*urn:btmh:* | *urn:btmh:*urn:btih:*) ;; *) fail "not a hybrid magnet: $hybrid_magnet" ;; esac
timeout -k 5 90 "$python" "$work/lt.py" seed "$lt_hybrid_ip" "$work/hybrid.torrent" "$work/src" >"$work/lt-hybrid.out" 2>&1 &
pids+=("$!")
wait_for '"port"' "$work/lt-hybrid.out" 30
lt_hybrid_port=$(sed -n 's/.*"port": \([0-9]*\).*/\1/p' "$work/lt-hybrid.out")
hybrid_seconds=$(magnet_download libtorrent-hybrid "$lt_hybrid_ip" "$lt_hybrid_port" "$hybrid_magnet" "$work/hybrid.torrent")

# (b) libtorrent downloads by magnet from our seed, knowing only its address.
start_bg "$work/seed" 90 seed "$torrent" "$work/src" --bind "$nbt_ip" --no-dht
seed_port=$(listen_port "$work/seed")
mkdir -p "$work/lt-leech"
start=$(date +%s.%N)
timeout -k 5 90 "$python" "$work/lt.py" magnet "$lt_leech_ip" "$nbt_ip" "$seed_port" \
  "magnet:?xt=urn:btih:$infohash" "$work/lt-leech" >"$work/lt-leech.out" 2>&1 || true
lt_leech_seconds=$(elapsed_since "$start")
grep -q '"seeding": true' "$work/lt-leech.out" ||
  fail "libtorrent did not complete the magnet from our seed: $(tail -3 "$work/lt-leech.out"); seed: $(tail -5 "$work/seed.out")"
cmp -s "$work/src/data.bin" "$work/lt-leech/data.bin" || fail "libtorrent's copy from our seed differs"
nbt_seconds=$(magnet_download nbt "$nbt_ip" "$seed_port")

# (c) Transmission and aria2 download by magnet from our seed: neither can be told of a peer (Transmission never
# dials loopback peers, aria2 takes no x.pe), so a second seed of ours dials them (--peer) and they fetch the
# metadata over the connection it opened. Transmission 3.00 closes every connection once it has the metadata
# and would dial again, which it never does on loopback: our seed redials it after its 60 s reconnect delay
# and the data flows then.
tr_leech_ip=$net.13 aria_leech_ip=$net.14 seed2_ip=$net.15
tr_leech_port=$(free_port "$tr_leech_ip")
aria_leech_port=$(free_port "$aria_leech_ip")
mkdir -p "$work/tr-leech/config" "$work/tr-leech/data" "$work/aria-leech"
cat >"$work/tr-leech/config/settings.json" <<EOF2
{"bind-address-ipv4": "$tr_leech_ip", "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false,
 "utp-enabled": false, "port-forwarding-enabled": false, "encryption": 1, "peer-port": $tr_leech_port,
 "download-dir": "$work/tr-leech/data", "speed-limit-down-enabled": false, "speed-limit-up-enabled": false}
EOF2
timeout -k 5 150 transmission-cli -g "$work/tr-leech/config" -w "$work/tr-leech/data" -p "$tr_leech_port" \
  "magnet:?xt=urn:btih:$infohash&dn=data.bin" >"$work/tr-leech.out" 2>&1 &
pids+=("$!")
tr_leech_pid=$!
timeout -k 5 150 aria2c --interface="$aria_leech_ip" --listen-port="$aria_leech_port" --enable-dht=false \
  --bt-enable-lpd=false --enable-peer-exchange=false --seed-time=0 --summary-interval=0 \
  --console-log-level=warn --dir="$work/aria-leech" "magnet:?xt=urn:btih:$infohash&dn=data.bin" \
  >"$work/aria-leech.out" 2>&1 &
pids+=("$!")
aria_leech_pid=$!
start_bg "$work/seed2" 150 seed "$torrent" "$work/src" --bind "$seed2_ip" --no-dht \
  --peer "$tr_leech_ip:$tr_leech_port" --peer "$aria_leech_ip:$aria_leech_port"
start=$(date +%s.%N)
tr_leech_seconds=no aria_leech_seconds=no
for _ in $(seq 1 1200); do
  if [ "$tr_leech_seconds" = no ] && cmp -s "$work/src/data.bin" "$work/tr-leech/data/data.bin" 2>/dev/null; then
    tr_leech_seconds=$(elapsed_since "$start")
    kill "$tr_leech_pid" 2>/dev/null || true
  fi
  if [ "$aria_leech_seconds" = no ] && cmp -s "$work/src/data.bin" "$work/aria-leech/data.bin" 2>/dev/null; then
    aria_leech_seconds=$(elapsed_since "$start")
  fi
  [ "$tr_leech_seconds" != no ] && [ "$aria_leech_seconds" != no ] && break
  sleep 0.1
done
[ "$tr_leech_seconds" != no ] || fail "Transmission did not complete the magnet from our seed: $(tail -3 "$work/tr-leech.out"); seed: $(tail -3 "$work/seed2.out")"
[ "$aria_leech_seconds" != no ] || fail "aria2 did not complete the magnet from our seed: $(tail -3 "$work/aria-leech.out"); seed: $(tail -3 "$work/seed2.out")"

echo "magnet_interop.sh: ok (3 MiB by magnet, x.pe only: from libtorrent ${lt_seconds} s, aria2 ${aria_seconds} s," \
  "Transmission ${tr_seconds} s, hybrid from libtorrent ${hybrid_seconds} s, nbt seed ${nbt_seconds} s; from our seed: libtorrent ${lt_leech_seconds} s," \
  "Transmission ${tr_leech_seconds} s, aria2 ${aria_leech_seconds} s)"
