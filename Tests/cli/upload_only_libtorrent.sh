#!/usr/bin/env bash
# BEP 21 `upload_only` with libtorrent: `nbt download --skip-file 1 --seed` on 127.N.M.3 takes only a.bin from
# an nbt seed on .2 and keeps seeding it: a partial seed, not a seed. A libtorrent leecher on .4 that wants
# both files connects to it and must mark it `upload_only` (its peer_info flag, set only from what the peer
# says) without the `seed` flag, while taking a.bin from it. Run by scripts/test with NBT=path to the nbt
# binary; fails when python3-libtorrent is missing and NBT_REQUIRE_INTEROP=1, else skips.
source "$(dirname "$0")/common.bash"
python=${NBT_PYTHON:-/usr/bin/python3}
if ! "$python" -c "import libtorrent" 2>/dev/null; then
  [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ] && fail "python3-libtorrent is missing"
  echo "upload_only_libtorrent.sh: skipped (no python3-libtorrent)"
  exit 0
fi
net="127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1))"
mkdir -p "$work/src/set"
head -c 262144 /dev/urandom >"$work/src/set/a.bin"
head -c 262144 /dev/urandom >"$work/src/set/b.bin"
"$NBT" create "$work/src/set" --v1 --piece-size 16K --no-date -o "$work/set.torrent" >/dev/null

start_bg "$work/seed" 60 seed "$work/set.torrent" "$work/src" --bind "$net.2"
seed_port=$(listen_port "$work/seed")
# Its upload is limited (64 KiB/s: a.bin takes ~4 s) so that libtorrent is still connected, taking a.bin, when
# it looks at its peers every 0.2 s: at full speed it had a.bin and closed the redundant connection (both upload
# only then) between two looks, once in a full run.
start_bg "$work/partial" 60 download "$work/set.torrent" -o "$work/dl" --bind "$net.3" --peer "$net.2:$seed_port" \
  --skip-file 1 --seed --up-limit 64K --log-level debug
partial_port=$(listen_port "$work/partial")
wait_for "torrent finished" "$work/partial.err" 30 || fail "the partial download did not finish: $(tail -5 "$work/partial.err")"
cmp -s "$work/src/set/a.bin" "$work/dl/set/a.bin" || fail "a.bin differs"

# libtorrent leecher: dials the partial seed and reports its flags for it. Bounded: 40 s.
cat >"$work/lt.py" <<'PY'
import json, sys, time
import libtorrent as lt
ip, torrent, dst, peer, port = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
s = lt.session({'listen_interfaces': ip + ':0', 'outgoing_interfaces': ip, 'enable_dht': False, 'enable_lsd': False,
                'enable_upnp': False, 'enable_natpmp': False, 'enable_outgoing_utp': False,
                'enable_incoming_utp': False, 'alert_mask': lt.alert.category_t.error_notification})
p = lt.add_torrent_params(); p.ti = lt.torrent_info(torrent); p.save_path = dst
h = s.add_torrent(p)
h.connect_peer((peer, port))
start = time.time()
seen = {'upload_only': False, 'seed': False, 'connected': False}
while time.time() < start + 40:
    for info in h.get_peer_info():
        if info.ip[0] == peer:
            seen['connected'] = True
            seen['upload_only'] |= bool(info.flags & lt.peer_info.upload_only)
            seen['seed'] |= bool(info.flags & lt.peer_info.seed)
    st = h.status()
    if seen['upload_only'] and st.progress >= 0.49:
        break
    time.sleep(0.2)
seen['progress'] = h.status().progress
print(json.dumps(seen), flush=True)
PY
mkdir -p "$work/lt"
timeout -k 5 50 "$python" "$work/lt.py" "$net.4" "$work/set.torrent" "$work/lt" "$net.3" "$partial_port" \
  >"$work/lt.out" 2>&1 || fail "libtorrent failed: $(cat "$work/lt.out")"
grep -q '"connected": true' "$work/lt.out" || fail "libtorrent never connected to the partial seed: $(cat "$work/lt.out")"
grep -q '"upload_only": true' "$work/lt.out" || fail "libtorrent did not mark the partial seed upload_only: $(cat "$work/lt.out")"
grep -q '"seed": false' "$work/lt.out" || fail "libtorrent took the partial seed for a seed: $(cat "$work/lt.out")"
cmp -s "$work/src/set/a.bin" "$work/lt/set/a.bin" || fail "libtorrent's a.bin from the partial seed differs: $(cat "$work/lt.out")"
echo "upload_only_libtorrent.sh: ok (libtorrent marks nbt's partial seed upload_only, not seed: $(cat "$work/lt.out"))"
