#!/usr/bin/env bash
# BEP 52 hash exchange against libtorrent (python3-libtorrent 2.0.8, or a 2.1 venv's python as NBT_PYTHON), each program on its own 127.N.M.x address,
# no tracker, no DHT. libtorrent makes and seeds a v2-only and a hybrid torrent (4 MiB file, 64 KiB pieces:
# 64 piece hashes in its layer); for each one `nbt download`
#   (a) the magnet with only x.pe (btmh, and btih+btmh for the hybrid): metadata (BEP 9), then the piece
#       layers (hash request / hashes with proofs), then the data;
#   (b) the .torrent with its `piece layers` removed, with --peer only: the layers come from libtorrent;
# and the .torrent it writes with --save-torrent has libtorrent's info dictionary byte for byte and its piece
# layers. The hybrid has two more cells: (b) in plaintext (--encryption none), where libtorrent answers our
# v1 handshake with the v2 hash (BEP 52's upgrade), and the magnet with btih alone, where the v2 hash is
# learnt with the metadata over an MSE connection keyed by the v1 hash, which libtorrent cannot upgrade: we
# close it and dial again by the v2 hash. Over MSE (nbt's default) a hybrid that lacks its layers is dialled
# by its truncated v2 hash, the only identity on which libtorrent answers hash requests.
# Then (c) libtorrent downloads the v2 torrent by magnet from our seed, fetching the metadata and asking us
# for the hashes.
# Run by scripts/test with NBT=path to the nbt binary; fails when libtorrent is missing and
# NBT_REQUIRE_INTEROP=1, else skips. Every program is bounded by `timeout` and killed by PID at the end.
source "$(dirname "$0")/common.bash"

python=${NBT_PYTHON:-/usr/bin/python3}
if ! "$python" -c "import libtorrent" 2>/dev/null; then
  [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ] && fail "missing peer program: python3-libtorrent"
  echo "magnet_v2_interop.sh: skipped (missing python3-libtorrent)"
  exit 0
fi

net="127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1))"
lt_v2_ip=$net.2 lt_hybrid_ip=$net.3 nbt_ip=$net.10 lt_leech_ip=$net.11 dl_ip=$net.12

mkdir -p "$work/src"
head -c $((4 * 1048576)) /dev/urandom >"$work/src/data.bin"

# The libtorrent side. `make KIND OUT`: libtorrent makes the torrent (v2 only or hybrid) and writes it, and
# beside it OUT.stripped (no `piece layers`) and OUT.magnet; `seed IP TORRENT DIR` seeds and prints its port;
# `magnet IP HOST PORT MAGNET DIR` downloads the magnet with only HOST:PORT as peer. Bounded: 80 s.
cat >"$work/lt.py" <<'EOF'
import json, sys, time
import libtorrent as lt
mode = sys.argv[1]
if mode == 'make':
    kind, out = sys.argv[2:4]
    fs = lt.file_storage()
    lt.add_files(fs, sys.argv[4] + '/data.bin')
    flags = lt.create_torrent.v2_only if kind == 'v2' else 0
    ct = lt.create_torrent(fs, 65536, flags=flags)
    lt.set_piece_hashes(ct, sys.argv[4])
    data = ct.generate()
    raw = lt.bencode(data)
    open(out, 'wb').write(raw)
    decoded = lt.bdecode(raw)
    assert b'piece layers' in decoded and decoded[b'piece layers'], 'libtorrent wrote no piece layers'
    del decoded[b'piece layers']
    open(out + '.stripped', 'wb').write(lt.bencode(decoded))
    ti = lt.torrent_info(out)
    ih = ti.info_hashes()
    magnet = 'magnet:?xt=urn:btmh:1220' + str(ih.v2)
    if kind != 'v2':
        magnet += '&xt=urn:btih:' + str(ih.v1)
        open(out + '.magnet-v1', 'w').write('magnet:?xt=urn:btih:' + str(ih.v1) + '&dn=data.bin')
    open(out + '.magnet', 'w').write(magnet + '&dn=data.bin')
    sys.exit(0)
ip = sys.argv[2]
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
        if st.num_peers == 0:
            h.connect_peer((host, port))
        time.sleep(0.2)
EOF

# same_torrent THEIRS OURS: the same info dictionary byte for byte and the same piece layers.
same_torrent() {
  "$python" - "$1" "$2" <<'EOF'
import sys
import libtorrent as lt
a, b = (lt.bdecode(open(path, 'rb').read()) for path in sys.argv[1:3])
if lt.bencode(a[b'info']) != lt.bencode(b[b'info']):
    sys.exit('the info dictionaries differ')
if a.get(b'piece layers') != b.get(b'piece layers'):
    sys.exit('the piece layers differ: ours has %d' % len(b.get(b'piece layers') or {}))
EOF
}

# nbt_download LABEL SOURCE THEIRS [ARGS...]: `nbt download SOURCE` (bounded), checks the data and that the
# .torrent saved equals THEIRS, piece layers fetched from libtorrent included; prints the seconds it took.
nbt_download() {
  local label=$1 source=$2 theirs=$3 start why
  shift 3
  start=$(date +%s.%N)
  timeout -k 5 90 "$NBT" download "$source" -o "$work/dl-$label" --bind "$dl_ip" --no-dht \
    --save-torrent "$work/$label.torrent" --log-level info "$@" >"$work/dl-$label.out" 2>"$work/dl-$label.err" ||
    fail "nbt download ($label) failed: $(tail -n 5 "$work/dl-$label.out" "$work/dl-$label.err")"
  elapsed_since "$start"
  cmp -s "$work/src/data.bin" "$work/dl-$label/data.bin" || fail "the data downloaded ($label) differs"
  grep -q "every piece layer verified" "$work/dl-$label.err" ||
    fail "($label) no piece layers were fetched: $(grep -i 'layer\|v1 hashes' "$work/dl-$label.err" | tail -3)"
  why=$(same_torrent "$theirs" "$work/$label.torrent" 2>&1) || fail "the .torrent saved ($label): $why"
}

declare -A seconds
for kind in v2 hybrid; do
  "$python" "$work/lt.py" make "$kind" "$work/$kind.torrent" "$work/src" || fail "libtorrent made no $kind torrent"
  ip=$lt_v2_ip
  [ "$kind" = hybrid ] && ip=$lt_hybrid_ip
  timeout -k 5 90 "$python" "$work/lt.py" seed "$ip" "$work/$kind.torrent" "$work/src" >"$work/lt-$kind.out" 2>&1 &
  pids+=("$!")
  wait_for '"seeding": true' "$work/lt-$kind.out" 30
  port=$(sed -n 's/.*"port": \([0-9]*\).*/\1/p' "$work/lt-$kind.out")
  magnet="$(cat "$work/$kind.torrent.magnet")&x.pe=$ip:$port"
  seconds[$kind-magnet]=$(nbt_download "$kind-magnet" "$magnet" "$work/$kind.torrent")
  seconds[$kind-stripped]=$(nbt_download "$kind-stripped" "$work/$kind.torrent.stripped" "$work/$kind.torrent" \
    --peer "$ip:$port")
  if [ "$kind" = hybrid ]; then
    # In plaintext libtorrent upgrades our v1 handshake to the v2 hash (BEP 52): the layers come from it.
    seconds[hybrid-plain]=$(nbt_download hybrid-plain "$work/hybrid.torrent.stripped" \
      "$work/hybrid.torrent" --peer "$ip:$port" --encryption none)
    # btih alone: the v1 connection that brought the metadata is redialled by the v2 hash for the layers.
    seconds[hybrid-btih]=$(nbt_download hybrid-btih "$(cat "$work/hybrid.torrent.magnet-v1")&x.pe=$ip:$port" \
      "$work/hybrid.torrent")
    grep -q "redialling it by the hybrid's v2 info-hash" "$work/dl-hybrid-btih.err" ||
      fail "(hybrid-btih) the v1 connection was not redialled by the v2 hash"
  fi
done

# (c) libtorrent downloads the v2 torrent by magnet from our seed: metadata and hashes come from us.
start_bg "$work/seed" 90 seed "$work/v2.torrent" "$work/src" --bind "$nbt_ip" --no-dht
seed_port=$(listen_port "$work/seed")
mkdir -p "$work/lt-leech"
start=$(date +%s.%N)
timeout -k 5 90 "$python" "$work/lt.py" magnet "$lt_leech_ip" "$nbt_ip" "$seed_port" \
  "$(cat "$work/v2.torrent.magnet")" "$work/lt-leech" >"$work/lt-leech.out" 2>&1 || true
lt_leech_seconds=$(elapsed_since "$start")
grep -q '"seeding": true' "$work/lt-leech.out" ||
  fail "libtorrent did not complete the v2 magnet from our seed: $(tail -3 "$work/lt-leech.out"); seed: $(tail -5 "$work/seed.out")"
cmp -s "$work/src/data.bin" "$work/lt-leech/data.bin" || fail "libtorrent's copy from our seed differs"

lt_version=$("$python" -c "import libtorrent; print(libtorrent.__version__)")
echo "magnet_v2_interop.sh: ok (4 MiB, libtorrent $lt_version seeds; we download, each saved .torrent with libtorrent's" \
  "info dictionary and piece layers: v2 by magnet ${seconds[v2-magnet]} s, v2 without piece layers ${seconds[v2-stripped]} s," \
  "hybrid by magnet ${seconds[hybrid-magnet]} s, hybrid without piece layers ${seconds[hybrid-stripped]} s (over MSE, by" \
  "its v2 hash), the same in plaintext ${seconds[hybrid-plain]} s (upgraded), hybrid by a btih-only magnet" \
  "${seconds[hybrid-btih]} s (redialled by its v2 hash); libtorrent downloads v2 by magnet from our seed ${lt_leech_seconds} s)"
