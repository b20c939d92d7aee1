#!/usr/bin/env bash
# BEP 52 block-layer hash requests against libtorrent (python3-libtorrent 2.0.8, or a 2.1 venv's python as
# NBT_PYTHON), both ways, each program on its own 127.N.M.x address, no tracker, no DHT, plaintext. A v2-only
# torrent (4 MiB, 256 KiB pieces: 16 blocks each) is seeded by libtorrent on .2, by an honest nbt on .5 and by
# a lying nbt on .4, whose copy of the data is corrupted (one byte in every 16 KiB block) after it has
# checked it, so it uploads bad blocks as pieces it has.
#   (a) `nbt download` on .3 from libtorrent and the liar: pieces with blocks from both fail; nbt asks
#       libtorrent (dialled first, so asked first) for each such piece's block hashes, libtorrent answers
#       with the proof up to the file's root, and only the liar is named, put on parole and banned; the data
#       is complete and libtorrent stays connected and unblamed.
#   (b) a libtorrent leecher on .6 from the honest nbt and the liar: its failed pieces are settled by the
#       block hashes the honest nbt serves (read from its data and hashed), libtorrent bans the liar only
#       and finishes.
# Run by scripts/test with NBT=path to the nbt binary; fails when libtorrent is missing and
# NBT_REQUIRE_INTEROP=1, else skips. Every program is bounded by `timeout` and killed by PID at the end.
source "$(dirname "$0")/common.bash"

python=${NBT_PYTHON:-/usr/bin/python3}
if ! "$python" -c "import libtorrent" 2>/dev/null; then
  [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ] && fail "missing peer program: python3-libtorrent"
  echo "block_hash_libtorrent.sh: skipped (missing python3-libtorrent)"
  exit 0
fi

net="127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1))"
lt_seed_ip=$net.2 dl_ip=$net.3 liar_ip=$net.4 honest_ip=$net.5 lt_leech_ip=$net.6

mkdir -p "$work/src" "$work/liar" "$work/lt-seed"
head -c $((4 * 1048576)) /dev/urandom >"$work/src/data.bin"
cp "$work/src/data.bin" "$work/liar/data.bin"
cp "$work/src/data.bin" "$work/lt-seed/data.bin"
"$NBT" create "$work/src/data.bin" --v2 --piece-size 256K --no-date -o "$work/data.torrent" >/dev/null

# libtorrent: `seed IP TORRENT DIR` seeds and prints its port; `leech IP TORRENT DIR HOST:PORT...` downloads
# from the given peers and prints, every 0.2 s, its progress and the peers it has banned. Bounded: 60 s.
cat >"$work/lt.py" <<'EOF'
import json, sys, time
import libtorrent as lt
mode, ip, torrent, save = sys.argv[1:5]
s = lt.session({'listen_interfaces': ip + ':0', 'outgoing_interfaces': ip, 'enable_dht': False,
                'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False, 'enable_outgoing_utp': False,
                'enable_incoming_utp': False, 'out_enc_policy': lt.enc_policy.disabled,
                'in_enc_policy': lt.enc_policy.disabled,
                'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.peer_notification})
p = lt.add_torrent_params(); p.ti = lt.torrent_info(torrent); p.save_path = save
h = s.add_torrent(p)
start = time.time()
if mode == 'seed':
    while time.time() < start + 30 and not h.status().is_seeding:
        time.sleep(0.1)
    print(json.dumps({'port': s.listen_port(), 'seeding': h.status().is_seeding}), flush=True)
    while time.time() < start + 60:
        time.sleep(0.5)
    sys.exit(0)
peers = [(a.rsplit(':', 1)[0], int(a.rsplit(':', 1)[1])) for a in sys.argv[5:]]
for peer in peers:
    h.connect_peer(peer)
banned, failed = set(), 0
while time.time() < start + 60:
    for a in s.pop_alerts():
        if isinstance(a, lt.peer_ban_alert):
            banned.add(a.endpoint[0])
        elif isinstance(a, lt.hash_failed_alert):
            failed += 1
    st = h.status()
    print(json.dumps({'t': round(time.time() - start, 2), 'progress': st.progress, 'seeding': st.is_seeding,
                      'failed': failed, 'banned': sorted(banned)}), flush=True)
    if st.is_seeding:
        break
    time.sleep(0.2)
EOF

timeout -k 5 65 "$python" "$work/lt.py" seed "$lt_seed_ip" "$work/data.torrent" "$work/lt-seed" >"$work/lt-seed.out" 2>&1 &
pids+=("$!")
wait_for '"seeding": true' "$work/lt-seed.out" 30
lt_port=$(sed -n 's/.*"port": \([0-9]*\).*/\1/p' "$work/lt-seed.out")

# The liar checks its (still good) copy, then its copy goes bad under it: one byte in every block.
start_bg "$work/liar" 60 seed "$work/data.torrent" "$work/liar" --bind "$liar_ip" --encryption none --log-level debug
liar_port=$(listen_port "$work/liar")
wait_for "verified 16/16|16/16 pieces|seeding" "$work/liar.out" 30
"$python" - "$work/liar/data.bin" <<'EOF'
import sys
with open(sys.argv[1], 'r+b') as f:
    for offset in range(0, 4 * 1048576, 16384):
        f.seek(offset + 100); byte = f.read(1); f.seek(offset + 100); f.write(bytes([byte[0] ^ 0x5A]))
EOF
start_bg "$work/honest" 60 seed "$work/data.torrent" "$work/src" --bind "$honest_ip" --encryption none \
  --log-level debug
honest_port=$(listen_port "$work/honest")

# (a) nbt asks libtorrent.
timeout -k 5 50 "$NBT" download "$work/data.torrent" -o "$work/dl" --bind "$dl_ip" --encryption none \
  --peer "$lt_seed_ip:$lt_port" --peer "$liar_ip:$liar_port" --down-limit 1M --log-level debug >"$work/dl.out" 2>"$work/dl.err" ||
  fail "(a) the download from libtorrent and the liar failed: $(tail -20 "$work/dl.err")"
cmp -s "$work/src/data.bin" "$work/dl/data.bin" || fail "(a) the downloaded data differs"
matches -E "asking $lt_seed_ip:$lt_port for the block hashes" "$work/dl.err" ||
  fail "(a) nbt never asked libtorrent for block hashes: $(grep -E "block hashes|failed" "$work/dl.err" | head)"
matches -E "$lt_seed_ip:$lt_port sent the block hashes" "$work/dl.err" ||
  fail "(a) libtorrent never sent block hashes: $(grep -E "block hashes|reject" "$work/dl.err" | head)"
named=$(grep -c "sender(s) of bad blocks: $liar_ip\$" "$work/dl.err" || true)
[ "$named" -ge 1 ] || fail "(a) no piece's block hashes named the liar alone: $(grep "bad blocks" "$work/dl.err" | head)"
! matches -E "bad blocks: .*$lt_seed_ip" "$work/dl.err" || fail "(a) libtorrent was named as a sender of bad blocks"
! matches -E "$lt_seed_ip:$lt_port.*(parole|blacklist|banned)" "$work/dl.err" || fail "(a) libtorrent was blamed"
matches -E "peer=$liar_ip:$liar_port reason=(reputation|blacklisted) .*peer disconnected" "$work/dl.err" ||
  fail "(a) the liar was not banned: $(grep "$liar_ip" "$work/dl.err" | tail -5)"

# (b) libtorrent asks nbt.
mkdir -p "$work/lt-leech"
timeout -k 5 65 "$python" "$work/lt.py" leech "$lt_leech_ip" "$work/data.torrent" "$work/lt-leech" \
  "$honest_ip:$honest_port" "$liar_ip:$liar_port" >"$work/lt-leech.out" 2>&1 ||
  fail "(b) libtorrent failed: $(tail -3 "$work/lt-leech.out")"
tail -1 "$work/lt-leech.out" | matches '"seeding": true' || fail "(b) libtorrent did not finish: $(tail -1 "$work/lt-leech.out")"
cmp -s "$work/src/data.bin" "$work/lt-leech/data.bin" || fail "(b) libtorrent's data differs"
served=$(grep -c "sending $lt_leech_ip:[0-9]* the block hashes of piece" "$work/honest.err" || true)
tail -1 "$work/lt-leech.out" | matches "\"banned\": \[\"$liar_ip\"\]" ||
  fail "(b) libtorrent did not ban the liar alone (nbt served $served block-hash answers): $(tail -1 "$work/lt-leech.out")"
[ "$served" -ge 1 ] || fail "(b) the honest nbt never served libtorrent block hashes"
echo "block_hash_libtorrent.sh: ok ((a) libtorrent's block hashes named the liar for $named piece(s); (b) nbt served libtorrent $served block-hash answers; $(tail -1 "$work/lt-leech.out"))"
