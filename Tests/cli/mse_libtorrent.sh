#!/usr/bin/env bash
# Message stream encryption through the client (issue 14) against libtorrent with RC4 forced both ways
# (out_enc_policy/in_enc_policy forced, allowed_enc_level rc4): `nbt download --encryption required` from a
# libtorrent seed, and a libtorrent leecher from `nbt seed --encryption required`; each side refuses plaintext,
# so completing proves the RC4 stream. Run by scripts/test with NBT=path to the nbt binary; fails when
# python3-libtorrent is missing and NBT_REQUIRE_INTEROP=1, else skips.
source "$(dirname "$0")/common.bash"
python=${NBT_PYTHON:-/usr/bin/python3}
if ! "$python" -c "import libtorrent" 2>/dev/null; then
  [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ] && fail "python3-libtorrent is missing"
  echo "mse_libtorrent.sh: skipped (no python3-libtorrent)"
  exit 0
fi
net="127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1))"
make_payload data.bin 4
torrent=$work/data.bin.torrent

# A libtorrent peer with RC4 forced: "seed IP" prints its port; "leech IP PEER_PORT PEER_IP" dials and
# prints done. Bounded: 60 s.
cat >"$work/lt.py" <<'PY'
import json, sys, time
import libtorrent as lt
mode, ip, torrent, path = sys.argv[1:5]
s = lt.session({'listen_interfaces': ip + ':0', 'outgoing_interfaces': ip, 'enable_dht': False,
                'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False, 'enable_outgoing_utp': False,
                'enable_incoming_utp': False, 'out_enc_policy': int(lt.enc_policy.pe_forced),
                'in_enc_policy': int(lt.enc_policy.pe_forced), 'allowed_enc_level': int(lt.enc_level.pe_rc4),
                'prefer_rc4': True})
p = lt.add_torrent_params(); p.ti = lt.torrent_info(torrent); p.save_path = path
h = s.add_torrent(p)
start = time.time()
if mode == 'seed':
    while not h.status().is_seeding and time.time() < start + 30: time.sleep(0.1)
    print(json.dumps({'port': s.listen_port()}), flush=True)
    while time.time() < start + 60: time.sleep(0.5)
else:
    h.connect_peer((sys.argv[6], int(sys.argv[5])))
    while not h.status().is_seeding and time.time() < start + 50: time.sleep(0.1)
    print(json.dumps({'done': h.status().is_seeding}), flush=True)
PY

# 1. nbt downloads from a libtorrent seed that speaks RC4 only.
timeout -k 5 70 "$python" "$work/lt.py" seed "$net.2" "$torrent" "$work/src" >"$work/lt-seed.out" 2>&1 &
pids+=("$!")
for _ in $(seq 1 300); do grep -q '"port"' "$work/lt-seed.out" 2>/dev/null && break; sleep 0.1; done
lt_port=$(sed -n 's/.*"port": \([0-9]*\).*/\1/p' "$work/lt-seed.out")
[ -n "$lt_port" ] || fail "the libtorrent seed did not start: $(cat "$work/lt-seed.out")"
timeout -k 5 50 "$NBT" download "$torrent" -o "$work/dl" --bind "$net.10" --peer "$net.2:$lt_port" \
  --encryption required >"$work/dl.out" 2>"$work/dl.err" || fail "nbt download --encryption required failed: $(tail -3 "$work/dl.err")"
cmp -s "$work/src/data.bin" "$work/dl/data.bin" || fail "the data downloaded over RC4 differs"

# 2. A libtorrent leecher that speaks RC4 only downloads from our seed.
start_bg "$work/seed" 60 seed "$torrent" "$work/src" --bind "$net.11" --encryption required
seed_port=$(listen_port "$work/seed")
mkdir -p "$work/lt-dl"
timeout -k 5 60 "$python" "$work/lt.py" leech "$net.3" "$torrent" "$work/lt-dl" "$seed_port" "$net.11" \
  >"$work/lt-leech.out" 2>&1 || true
grep -q '"done": true' "$work/lt-leech.out" || fail "libtorrent (RC4 forced) did not download from our seed: $(cat "$work/lt-leech.out")"
cmp -s "$work/src/data.bin" "$work/lt-dl/data.bin" || fail "the data libtorrent downloaded over RC4 differs"
echo "mse_libtorrent.sh: ok (RC4 both ways with libtorrent)"
