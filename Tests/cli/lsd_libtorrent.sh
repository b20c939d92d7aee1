#!/usr/bin/env bash
# Local service discovery (BEP 14) with libtorrent, in a network namespace of the script's own whose only
# interface is a loopback that carries multicast (`unshare --net`; lo up, MULTICAST on, 239.0.0.0/8 routed to
# it): nothing is multicast on the machine's networks. A libtorrent seed with enable_lsd, and `nbt download`
# with no --peer, no tracker and no DHT: nbt must find the seed by LSD alone (its log names the peer that the
# local discovery gave) and download the bytes; then an nbt seed and a libtorrent leecher that must find it by
# LSD alone. Run by scripts/test with NBT=path to the nbt binary; needs root for the namespace; fails when
# python3-libtorrent is missing and NBT_REQUIRE_INTEROP=1, else skips.
if [ -z "${NBT_LSD_NAMESPACE:-}" ]; then
  exec timeout -k 5 200 unshare --net env NBT_LSD_NAMESPACE=1 bash "$0" "$@"
fi
source "$(dirname "$0")/common.bash"
python=${NBT_PYTHON:-/usr/bin/python3}
if ! "$python" -c "import libtorrent" 2>/dev/null; then
  [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ] && fail "python3-libtorrent is missing"
  echo "lsd_libtorrent.sh: skipped (no python3-libtorrent)"
  exit 0
fi
ip link set lo up && ip link set lo multicast on && ip route add 239.0.0.0/8 dev lo ||
  fail "cannot set up multicast on the namespace's loopback"
[ "$(ip -o link | grep -vc ': lo:')" = 0 ] || fail "the namespace has an interface besides lo"
# In this namespace multicast reaches nothing else: let nbt's local discovery run (the DHT stays off).
unset NBT_NO_PUBLIC_DHT
make_payload data.bin 2
torrent=$work/data.bin.torrent

cat >"$work/lt.py" <<'EOF'
import json, sys, time
import libtorrent as lt
role, torrent, path = sys.argv[1:4]
s = lt.session({'listen_interfaces': '127.0.0.1:0', 'enable_dht': False, 'enable_lsd': True,
                'enable_upnp': False, 'enable_natpmp': False, 'enable_outgoing_utp': False,
                'enable_incoming_utp': False, 'alert_mask': lt.alert.category_t.error_notification})
p = lt.add_torrent_params(); p.ti = lt.torrent_info(torrent); p.save_path = path
h = s.add_torrent(p)
print(json.dumps({'port': s.listen_port()}), flush=True)
start = time.time()
while time.time() < start + 60:
    st = h.status()
    if role == 'leech' and st.is_seeding:
        break
    time.sleep(0.2)
st = h.status()
print(json.dumps({'seconds': round(time.time() - start, 1), 'seeding': st.is_seeding, 'peers': st.num_peers}),
      flush=True)
if role == 'seed':
    time.sleep(60)
EOF

# 1. libtorrent seeds; nbt finds it by LSD alone.
timeout -k 5 70 "$python" "$work/lt.py" seed "$torrent" "$work/src" >"$work/lt-seed.out" 2>&1 &
pids+=("$!")
for _ in $(seq 1 100); do grep -q '"port"' "$work/lt-seed.out" 2>/dev/null && break; sleep 0.1; done
lt_port=$(sed -n 's/.*"port": \([0-9]*\).*/\1/p' "$work/lt-seed.out" | head -1)
[ -n "$lt_port" ] || fail "libtorrent did not start: $(cat "$work/lt-seed.out")"
start=$(date +%s.%N)
timeout -k 5 60 "$NBT" download "$torrent" -o "$work/dl" --bind 127.0.0.1 --no-dht --log-level debug \
  >"$work/dl.out" 2>"$work/dl.err" || fail "nbt download failed: $(grep -i "local discovery" "$work/dl.err" | tail -5; tail -3 "$work/dl.err")"
found=$(elapsed_since "$start")
cmp -s "$work/src/data.bin" "$work/dl/data.bin" || fail "the downloaded data differs"
# libtorrent announced before nbt's socket existed (its three announces span 6 s): it is libtorrent that
# hears nbt's announce and dials it (nbt hearing libtorrent is not checked here: see the CHANGELOG).
grep -q "incoming=true.*peer connected\|peer connected.*incoming=true" "$work/dl.err" ||
  fail "libtorrent never dialled nbt after its LSD announce: $(grep -iE "local discovery|peer connected" "$work/dl.err")"

# 2. nbt seeds; a libtorrent leecher finds it by LSD alone.
start_bg "$work/seed" 90 seed "$torrent" "$work/src" --bind 127.0.0.1 --no-dht --log-level debug
listen_port "$work/seed" >/dev/null
# The leecher starts once nbt announces the torrent (its own announce comes back to it on the group), so
# libtorrent's announces (three, at its start, then one every 5 min) reach an open socket. (Since BTEngine
# 0.14 announces that arrive during nbt's hash check are taken too; before, they were ignored.)
wait_for "why=ownCookie" "$work/seed.err" 15
timeout -k 5 70 "$python" "$work/lt.py" leech "$torrent" "$work/lt-dl" >"$work/lt-leech.out" 2>&1 ||
  fail "the libtorrent leecher failed: $(cat "$work/lt-leech.out")"
grep -q '"seeding": true' "$work/lt-leech.out" ||
  fail "libtorrent did not find nbt's seed by LSD: $(cat "$work/lt-leech.out"; grep -i "local discovery" "$work/seed.err")"
cmp -s "$work/src/data.bin" "$work/lt-dl/data.bin" || fail "libtorrent's copy differs"
lt_took=$(sed -n 's/.*"seconds": \([0-9.]*\).*/\1/p' "$work/lt-leech.out")
# nbt hears libtorrent too: its log names the peer each announce gave (the leecher's listen port).
lt_leech_port=$(sed -n 's/.*"port": \([0-9]*\).*/\1/p' "$work/lt-leech.out" | head -1)
grep -qE "peer=127\.0\.0\.1:$lt_leech_port .*local discovery peer" "$work/seed.err" ||
  fail "nbt never heard libtorrent's LSD announce (port $lt_leech_port): $(grep -i "local discovery" "$work/seed.err")"
echo "lsd_libtorrent.sh: ok (libtorrent heard nbt's LSD announce and nbt downloaded from it in $found s; libtorrent found nbt's seed by LSD and completed in $lt_took s; nbt heard the libtorrent leecher's announce, port $lt_leech_port)"
