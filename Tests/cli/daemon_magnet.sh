#!/usr/bin/env bash
# `nbt daemon` adds a magnet through Transmission's own remote (`transmission-remote -a MAGNET`): the link's
# x.pe names a libtorrent 2.0.8 seed on 127.N.M.2 (no tracker, no DHT), the daemon fetches the metadata from
# it (ut_metadata, BEP 9), lists the torrent under the link's dn meanwhile, downloads it, keeps the .torrent
# in its config dir, and after a restart (SIGTERM) the torrent is back complete with nothing downloaded and
# no peer at all. Fails when transmission-remote or python3-libtorrent is missing and NBT_REQUIRE_INTEROP=1,
# else skips.
source "$(dirname "$0")/common.bash"
python=${NBT_PYTHON:-/usr/bin/python3}
missing=""
command -v transmission-remote >/dev/null || missing="transmission-remote (transmission-cli)"
"$python" -c "import libtorrent" 2>/dev/null || missing="$missing python3-libtorrent"
if [ -n "$missing" ]; then
  [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ] && fail "missing: $missing"
  echo "daemon_magnet.sh: skipped (missing: $missing)"
  exit 0
fi
net="127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1))"
rpc_port=$((RANDOM % 20000 + 30000))
seed_port=$((RANDOM % 20000 + 10000))
mkdir -p "$work/src/pack"
head -c $((3 * 1048576)) /dev/urandom >"$work/src/pack/a.bin"
head -c $((1 * 1048576 + 777)) /dev/urandom >"$work/src/pack/b.bin"
"$NBT" create "$work/src/pack" --v1 --piece-size 64K --no-date -o "$work/pack.torrent" >/dev/null

start_daemon() {
  timeout --preserve-status -k 5 200 "$NBT" daemon --config-dir "$work/config" --download-dir "$work/dl" \
    --rpc-bind "$net.1" --rpc-port "$rpc_port" --bind "$net.10" --port 0 --no-dht \
    >"$work/daemon$1.out" 2>"$work/daemon$1.err" &
  daemon_pid=$!
  pids+=("$daemon_pid")
  for _ in $(seq 1 300); do grep -q "RPC on http" "$work/daemon$1.out" 2>/dev/null && break; sleep 0.1; done
  grep -q "RPC on http" "$work/daemon$1.out" || fail "the daemon did not start: $(cat "$work/daemon$1.out" "$work/daemon$1.err")"
}
tr() { timeout 20 transmission-remote "$net.1:$rpc_port" "$@"; }

# libtorrent seeds on a known port (the magnet's x.pe) and prints the info-hash. Bounded: 150 s.
cat >"$work/lt.py" <<'PY'
import sys, time
import libtorrent as lt
net, port, torrent, src = sys.argv[1:5]
s = lt.session({'listen_interfaces': '%s.2:%s' % (net, port), 'outgoing_interfaces': net + '.2',
                'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
                'enable_outgoing_utp': False, 'enable_incoming_utp': False,
                'alert_mask': lt.alert.category_t.error_notification})
ti = lt.torrent_info(torrent)
p = lt.add_torrent_params(); p.ti = ti; p.save_path = src
h = s.add_torrent(p)
start = time.time()
while time.time() < start + 30 and not h.status().is_seeding:
    time.sleep(0.1)
print('seeding', str(ti.info_hash()), flush=True)
while time.time() < start + 150:
    time.sleep(1)
PY
timeout -k 5 160 "$python" "$work/lt.py" "$net" "$seed_port" "$work/pack.torrent" "$work/src" >"$work/lt.out" 2>&1 &
pids+=("$!")
wait_for "^seeding [0-9a-f]{40}" "$work/lt.out" 30
hash=$(sed -n 's/^seeding \([0-9a-f]*\).*/\1/p' "$work/lt.out")

start_daemon 1
magnet="magnet:?xt=urn:btih:$hash&dn=from%20a%20magnet&x.pe=$net.2:$seed_port"
tr -a "$magnet" | matches success || fail "-a MAGNET did not succeed"
# Listed at once: under its dn while fetching, or already under the torrent's own name.
tr -l >"$work/l1" || fail "-l failed"
grep -qE " (from a magnet|pack)$" "$work/l1" || fail "-l does not list the magnet: $(cat "$work/l1")"
# The same magnet again is a duplicate (transmission-remote 3.00 prints "success" for torrent-duplicate).
tr -a "magnet:?xt=urn:btih:$hash" >"$work/dup" 2>&1 || fail "adding the same magnet again failed: $(cat "$work/dup")"
[ "$(tr -l | grep -cE " (from a magnet|pack)$")" = 1 ] || fail "the same magnet is listed twice: $(tr -l)"
for _ in $(seq 1 600); do tr -l | matches -E " 100% .* pack$" && break; sleep 0.2; done
tr -l | matches -E " 100% .* pack$" || fail "the magnet did not complete: $(tr -l; tail -20 "$work/daemon1.err")"
cmp -s "$work/src/pack/a.bin" "$work/dl/pack/a.bin" && cmp -s "$work/src/pack/b.bin" "$work/dl/pack/b.bin" ||
  fail "downloaded data differs"
tr -t 1 -f >"$work/f1" || fail "-f failed"
grep -q "pack/a.bin" "$work/f1" && grep -q "pack/b.bin" "$work/f1" || fail "-f lacks the files: $(cat "$work/f1")"
[ -s "$work/config/torrents/$hash.torrent" ] || fail "the metadata was not kept in the config dir"
"$NBT" info "$work/config/torrents/$hash.torrent" | matches -i "$hash" || fail "the kept .torrent is not the magnet's"

# Restart with the seed gone: back complete, nothing fetched or downloaded.
kill -TERM "$daemon_pid"
finish "$daemon_pid"
[ "$status" = 0 ] || fail "the daemon exited with $status on SIGTERM: $(tail -5 "$work/daemon1.err")"
for pid in "${pids[@]}"; do [ "$pid" = "$daemon_pid" ] || kill "$pid" 2>/dev/null || true; done
start_daemon 2
for _ in $(seq 1 100); do tr -l | matches -E " 100% .* pack$" && break; sleep 0.2; done
tr -l | matches -E " 100% .* pack$" || fail "after a restart the magnet's torrent is not back complete: $(tr -l)"
tr -t 1 -i | matches -E "Downloaded: (None|0)" || fail "the restarted daemon downloaded again"
tr -t 1 --remove-and-delete | matches success || fail "--remove-and-delete did not succeed"
kill -TERM "$daemon_pid"
finish "$daemon_pid"
[ "$status" = 0 ] || fail "the daemon exited with $status on SIGTERM"
echo "daemon_magnet.sh: ok (transmission-remote added a magnet, nbt daemon fetched its metadata from libtorrent via x.pe, downloaded 4 MiB, kept the .torrent, came back complete after a restart)"
