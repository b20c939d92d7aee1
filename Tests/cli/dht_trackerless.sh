#!/usr/bin/env bash
# Trackerless downloads through the DHT (issue 16), both ways, against libtorrent, inside a network namespace
# that has only a loopback interface (nothing can leave the machine; the public routers are never named):
#   1. three libtorrent sessions form a small DHT on 127.0.0.10-12; the second seeds torrent A (no tracker);
#      `nbt download A --dht-bootstrap 127.0.0.10:P` must find it through the DHT alone and complete;
#   2. `nbt seed B --dht-bootstrap 127.0.0.10:P --transport both` announces B from a DHT node that shares the
#      uTP socket of its listen port (issue 16); the third libtorrent session, given B (no tracker), must find
#      our seed through the DHT and download B from it.
# Run by scripts/test with NBT=path to the nbt binary; needs root (unshare) and python3-libtorrent: fails when
# they are missing and NBT_REQUIRE_INTEROP=1, else skips.
if [ -z "${NBT_IN_NETNS:-}" ]; then
  if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null || ! command -v ip >/dev/null; then
    [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ] && { echo "FAIL: dht_trackerless.sh: needs root, unshare and ip" >&2; exit 1; }
    echo "dht_trackerless.sh: skipped (needs root, unshare and ip)"
    exit 0
  fi
  exec unshare --net env NBT_IN_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
source "$(dirname "$0")/common.bash"
python=${NBT_PYTHON:-/usr/bin/python3}
if ! "$python" -c "import libtorrent" 2>/dev/null; then
  [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ] && fail "python3-libtorrent is missing"
  echo "dht_trackerless.sh: skipped (no python3-libtorrent)"
  exit 0
fi
# Only loopback here: the namespace is ours.
[ "$(ip -o link | grep -vc ': lo:')" = 0 ] || fail "the namespace has interfaces besides lo: $(ip -o link)"

mkdir -p "$work/a" "$work/b" "$work/lt-b"
head -c $((2 * 1048576)) /dev/urandom >"$work/a/a.bin"
head -c $((2 * 1048576)) /dev/urandom >"$work/b/b.bin"
"$NBT" create "$work/a/a.bin" --v1 --piece-size 64K --no-date -o "$work/a.torrent" >/dev/null
"$NBT" create "$work/b/b.bin" --v1 --piece-size 64K --no-date -o "$work/b.torrent" >/dev/null
port=$((20000 + RANDOM % 20000))

# The libtorrent DHT: sessions on 127.0.0.10, .11, .12, each bootstrapped from the others; .11 seeds A and,
# once told (file "start-b"), .12 downloads B. Bounded: it exits by itself after 110 s.
cat >"$work/lt.py" <<'EOF'
import os, sys, time
import libtorrent as lt
work, port, a_torrent, b_torrent = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
sessions = []
for i in range(3):
    sessions.append(lt.session({
        'listen_interfaces': '127.0.0.%d:%d' % (10 + i, port), 'outgoing_interfaces': '127.0.0.%d' % (10 + i),
        'enable_dht': True, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        'enable_outgoing_utp': False, 'enable_incoming_utp': False, 'dht_bootstrap_nodes': '',
        'dht_restrict_routing_ips': False, 'dht_restrict_search_ips': False, 'dht_enforce_node_id': False,
        'dht_prefer_verified_node_ids': False, 'dht_ignore_dark_internet': False, 'dht_announce_interval': 3,
        'alert_mask': lt.alert.category_t.error_notification,
    }))
for i, s in enumerate(sessions):
    for j in range(3):
        if j != i:
            s.add_dht_node(('127.0.0.%d' % (10 + j), port))
p = lt.add_torrent_params(); p.ti = lt.torrent_info(a_torrent); p.save_path = os.path.join(work, 'a')
seed = sessions[1].add_torrent(p)
start = time.time()
while time.time() < start + 30 and not seed.status().is_seeding:
    time.sleep(0.1)
time.sleep(2)  # a few DHT rounds, so A is announced
open(os.path.join(work, 'lt-ready'), 'w').write('ready')
leech = None
while time.time() < start + 110:
    if leech is None and os.path.exists(os.path.join(work, 'start-b')):
        p = lt.add_torrent_params(); p.ti = lt.torrent_info(b_torrent); p.save_path = os.path.join(work, 'lt-b')
        leech = sessions[2].add_torrent(p)
    if leech is not None and leech.status().is_seeding:
        open(os.path.join(work, 'lt-b-done'), 'w').write('%d' % leech.status().num_peers)
    for s in sessions:
        s.pop_alerts()
    time.sleep(0.1)
EOF
timeout -k 5 120 "$python" "$work/lt.py" "$work" "$port" "$work/a.torrent" "$work/b.torrent" >"$work/lt.out" 2>&1 &
pids+=("$!")
for _ in $(seq 1 400); do [ -e "$work/lt-ready" ] && break; sleep 0.1; done
[ -e "$work/lt-ready" ] || fail "the libtorrent DHT did not start: $(cat "$work/lt.out")"

# 1. Our download finds libtorrent's seed through the DHT alone (the torrent has no tracker).
start=$(date +%s)
timeout -k 5 60 "$NBT" download "$work/a.torrent" -o "$work/dl-a" --bind 127.0.0.20 \
  --dht-bootstrap "127.0.0.10:$port" --log-level info >"$work/dl-a.out" 2>"$work/dl-a.err" ||
  fail "nbt download through the DHT failed: $(tail -5 "$work/dl-a.err")"
cmp -s "$work/a/a.bin" "$work/dl-a/a.bin" || fail "the file downloaded through the DHT differs"
a_seconds=$(($(date +%s) - start))
grep -q "DHT bootstrapped" "$work/dl-a.err" || fail "no DHT bootstrap in nbt's log: $(cat "$work/dl-a.err")"

# 2. libtorrent finds our seed of B through the DHT (our node on the uTP socket) and downloads B from it.
start_bg "$work/seed-b" 90 seed "$work/b.torrent" "$work/b" --bind 127.0.0.21 --dht-bootstrap "127.0.0.10:$port" \
  --transport both --log-level info
listen_port "$work/seed-b" >/dev/null
wait_for "DHT bootstrapped" "$work/seed-b.err" 30
touch "$work/start-b"
start=$(date +%s)
while [ $(($(date +%s) - start)) -lt 60 ]; do
  cmp -s "$work/b/b.bin" "$work/lt-b/b.bin" 2>/dev/null && break
  sleep 0.5
done
cmp -s "$work/b/b.bin" "$work/lt-b/b.bin" 2>/dev/null ||
  fail "libtorrent did not download B from our seed through the DHT: $(tail -5 "$work/seed-b.out")"
b_seconds=$(($(date +%s) - start))
echo "dht_trackerless.sh: ok (nbt found libtorrent's seed and downloaded in $a_seconds s; libtorrent found our seed and downloaded in $b_seconds s)"
