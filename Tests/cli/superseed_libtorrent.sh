#!/usr/bin/env bash
# Super-seeding (BEP 16) against libtorrent: `nbt seed --super-seed` on 127.N.M.2 and five libtorrent leechers
# (one Python process, 127.N.M.3-7) that know the seed and each other. Every leecher must complete with the
# right bytes; the seed's upload when they have all completed is printed beside a normal `nbt seed`'s in the
# same run (same leechers, same payload). Run by scripts/test with NBT=path to the nbt binary; fails when
# python3-libtorrent is missing and NBT_REQUIRE_INTEROP=1, else skips.
source "$(dirname "$0")/common.bash"
python=${NBT_PYTHON:-/usr/bin/python3}
if ! "$python" -c "import libtorrent" 2>/dev/null; then
  [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ] && fail "python3-libtorrent is missing"
  echo "superseed_libtorrent.sh: skipped (no python3-libtorrent)"
  exit 0
fi
net="127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1))"
make_payload data.bin 4
torrent=$work/data.bin.torrent
size=$(stat -c %s "$work/src/data.bin")

# Five libtorrent leechers that dial the seed and each other; print one line when all completed (or after 100 s).
cat >"$work/lt.py" <<'EOF'
import json, sys, time
import libtorrent as lt
net, torrent, seed_port, dst = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sessions, handles = [], []
for i in range(5):
    ip = '%s.%d' % (net, 3 + i)
    s = lt.session({'listen_interfaces': ip + ':0', 'outgoing_interfaces': ip, 'enable_dht': False,
                    'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
                    'enable_outgoing_utp': False, 'enable_incoming_utp': False,
                    'alert_mask': lt.alert.category_t.error_notification})
    p = lt.add_torrent_params(); p.ti = lt.torrent_info(torrent); p.save_path = '%s/%d' % (dst, i)
    sessions.append(s); handles.append(s.add_torrent(p))
time.sleep(1)
for i, h in enumerate(handles):
    h.connect_peer((net + '.2', seed_port))
    for j, s in enumerate(sessions):
        if j != i: h.connect_peer(('%s.%d' % (net, 3 + j), s.listen_port()))
start = time.time()
while time.time() < start + 100 and not all(h.status().is_seeding for h in handles):
    time.sleep(0.05)
print(json.dumps({'done': all(h.status().is_seeding for h in handles), 'seconds': round(time.time() - start, 2),
                  'progress': [round(h.status().progress, 3) for h in handles]}), flush=True)
EOF

# run MODE FLAGS...: seeds with nbt, runs the leechers, stops the seed when they are done; sets $uploaded.
run() {
  local mode=$1
  shift
  start_bg "$work/seed-$mode" 150 seed "$torrent" "$work/src" --bind "$net.2" --no-dht --no-lsd "$@"
  local seed_pid=$last_pid
  local port
  port=$(listen_port "$work/seed-$mode")
  rm -rf "$work/lt-$mode"
  timeout -k 5 120 "$python" "$work/lt.py" "$net" "$torrent" "$port" "$work/lt-$mode" >"$work/lt-$mode.out" 2>&1 ||
    fail "libtorrent leechers ($mode) failed: $(cat "$work/lt-$mode.out")"
  kill -INT "$seed_pid" 2>/dev/null || true
  finish "$seed_pid"
  grep -q '"done": true' "$work/lt-$mode.out" ||
    fail "libtorrent leechers did not complete against the $mode seed: $(cat "$work/lt-$mode.out") $(tail -3 "$work/seed-$mode.out")"
  for i in 0 1 2 3 4; do
    cmp -s "$work/src/data.bin" "$work/lt-$mode/$i/data.bin" || fail "leecher $i ($mode) has different bytes"
  done
  uploaded=$(stopped_field "$work/seed-$mode" uploaded)
}
run super --super-seed
super=$uploaded
run normal
normal=$uploaded
ratio() { awk -v u="$1" -v s="$size" 'BEGIN { printf "%.2f", u / s }'; }
echo "superseed_libtorrent.sh: ok (5 libtorrent leechers complete; seed uploaded $(ratio "$super")x the payload super-seeding, $(ratio "$normal")x seeding normally; $(sed -n 's/.*"seconds": \([0-9.]*\).*/\1/p' "$work/lt-super.out") s vs $(sed -n 's/.*"seconds": \([0-9.]*\).*/\1/p' "$work/lt-normal.out") s)"
