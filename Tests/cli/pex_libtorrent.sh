#!/usr/bin/env bash
# Peer exchange (BEP 11) with libtorrent: a libtorrent seed on 127.N.M.2 and a slow libtorrent leecher on
# 127.N.M.3 connected to it; `nbt download --peer <leecher>` is told of the leecher only, and must learn the
# seed from the leecher's `ut_pex` message and connect to it (its log names the seed's address). No tracker,
# no DHT. Run by scripts/test with NBT=path to the nbt binary; fails when python3-libtorrent is missing and
# NBT_REQUIRE_INTEROP=1, else skips.
source "$(dirname "$0")/common.bash"
python=${NBT_PYTHON:-/usr/bin/python3}
if ! "$python" -c "import libtorrent" 2>/dev/null; then
  [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ] && fail "python3-libtorrent is missing"
  echo "pex_libtorrent.sh: skipped (no python3-libtorrent)"
  exit 0
fi
net="127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1))"
make_payload data.bin 4
torrent=$work/data.bin.torrent

# libtorrent: a seed and a leecher that dials it (both keep the connection once the leecher has everything).
# Prints the leecher's port once it is connected to the seed. Bounded: exits by itself after 80 s.
cat >"$work/lt.py" <<'EOF'
import json, os, sys, time
import libtorrent as lt
net, torrent, src, dst = sys.argv[1:5]
def session(ip, extra={}):
    settings = {'listen_interfaces': ip + ':0', 'outgoing_interfaces': ip, 'enable_dht': False,
                'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False, 'enable_outgoing_utp': False,
                'enable_incoming_utp': False, 'alert_mask': lt.alert.category_t.error_notification,
                # The leecher finishes at once on loopback; keep its connection to the seed (and so the seed
                # in its ut_pex messages) rather than closing it as redundant.
                'close_redundant_connections': False}
    settings.update(extra)
    return lt.session(settings)
seed_s = session(net + '.2', {'enable_outgoing_tcp': False})  # it never dials: we must dial it
leech_s = session(net + '.3')
p = lt.add_torrent_params(); p.ti = lt.torrent_info(torrent); p.save_path = src
seed = seed_s.add_torrent(p)
p = lt.add_torrent_params(); p.ti = lt.torrent_info(torrent); p.save_path = dst
leech = leech_s.add_torrent(p)
start = time.time()
while time.time() < start + 30 and not seed.status().is_seeding:
    time.sleep(0.1)
leech.connect_peer((net + '.2', seed_s.listen_port()))
while time.time() < start + 30 and leech.status().num_peers == 0:
    time.sleep(0.1)
print(json.dumps({'seed': seed_s.listen_port(), 'leecher': leech_s.listen_port()}), flush=True)
while time.time() < start + 80:
    st = leech.status()
    print(json.dumps({'t': round(time.time() - start, 1), 'progress': st.progress, 'peers': st.num_peers}), flush=True)
    time.sleep(0.5)
EOF
mkdir -p "$work/lt-leech"
timeout -k 5 90 "$python" "$work/lt.py" "$net" "$torrent" "$work/src" "$work/lt-leech" >"$work/lt.out" 2>&1 &
pids+=("$!")
for _ in $(seq 1 300); do grep -q '"leecher"' "$work/lt.out" 2>/dev/null && break; sleep 0.1; done
grep -q '"leecher"' "$work/lt.out" || fail "libtorrent did not start: $(cat "$work/lt.out")"
seed_port=$(sed -n 's/.*"seed": \([0-9]*\).*/\1/p' "$work/lt.out")
leech_port=$(sed -n 's/.*"leecher": \([0-9]*\).*/\1/p' "$work/lt.out")

timeout -k 5 60 "$NBT" download "$torrent" -o "$work/dl" --bind "$net.10" --peer "$net.3:$leech_port" \
  --down-limit 512K --log-level debug >"$work/dl.out" 2>"$work/dl.err" || fail "nbt download failed: $(tail -5 "$work/dl.err")"
cmp -s "$work/src/data.bin" "$work/dl/data.bin" || fail "the downloaded data differs"
grep -q "peer=$net.2:$seed_port.*peer connected" "$work/dl.err" ||
  { cat "$work/lt.out"; fail "nbt never connected to libtorrent's seed $net.2:$seed_port (known only through PEX): $(grep -E "peer connected|ut_pex" "$work/dl.err")"; }
echo "pex_libtorrent.sh: ok (learnt libtorrent's seed $net.2:$seed_port from the leecher's ut_pex)"
