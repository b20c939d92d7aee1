#!/usr/bin/env bash
# `nbt daemon` driven by Transmission's own remote (`transmission-remote` 3.00, Debian transmission-cli) over
# the Transmission RPC on 127.N.M.1, while a libtorrent seed on 127.N.M.2 (no tracker, no DHT) dials the
# daemon's peer port: add a multi-file .torrent (-a), list (-l), info (-i, -f, -pi, -it), unwanted/wanted
# files (-G/-g), a torrent download limit (-d, then -D), session limits (-d/-u, -D/-U), turtle limits
# (-asd/-asu/-as, -AS), the encryption policy (-er, -ep), stop/start (-S/-s), the download completing with the seed's bytes, a file renamed
# (torrent-rename-path, sent directly: transmission-remote 3.00 has no --rename) and still so after restarts, verify (-v), a .torrent dropped in the watch dir, a restart (SIGTERM, then the torrent
# is back complete without downloading; the same after kill -9), a magnet without an info-hash refused with
# a clear error, remove with data (--remove-and-delete), and a clean SIGTERM exit.
# Fails when transmission-remote or python3-libtorrent is missing and NBT_REQUIRE_INTEROP=1, else skips.
source "$(dirname "$0")/common.bash"
python=${NBT_PYTHON:-/usr/bin/python3}
missing=""
command -v transmission-remote >/dev/null || missing="transmission-remote (transmission-cli)"
"$python" -c "import libtorrent" 2>/dev/null || missing="$missing python3-libtorrent"
if [ -n "$missing" ]; then
  [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ] && fail "missing: $missing"
  echo "daemon_transmission_remote.sh: skipped (missing: $missing)"
  exit 0
fi
net="127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1))"
rpc_port=$((RANDOM % 20000 + 30000))
mkdir -p "$work/src/pack" "$work/watch"
head -c $((3 * 1048576)) /dev/urandom >"$work/src/pack/a.bin"
head -c $((1 * 1048576)) /dev/urandom >"$work/src/pack/b.bin"
"$NBT" create "$work/src/pack" --v1 --piece-size 64K --no-date -o "$work/pack.torrent" >/dev/null
head -c 100000 /dev/urandom >"$work/src/other.bin"
"$NBT" create "$work/src/other.bin" --v1 --piece-size 16K --no-date -o "$work/other.torrent" >/dev/null

# The daemon. Its first line names the RPC address and the peer port.
# Run under `timeout --preserve-status` so that a SIGTERM we send reports the daemon's own exit status.
start_daemon() {
  timeout --preserve-status -k 5 200 "$NBT" daemon --config-dir "$work/config" --download-dir "$work/dl" \
    --watch-dir "$work/watch" --rpc-bind "$net.1" --rpc-port "$rpc_port" --bind "$net.10" --port 0 --no-dht \
    >"$work/daemon$1.out" 2>"$work/daemon$1.err" &
  daemon_pid=$!
  pids+=("$daemon_pid")
  for _ in $(seq 1 300); do grep -q "RPC on http" "$work/daemon$1.out" 2>/dev/null && break; sleep 0.1; done
  grep -q "RPC on http" "$work/daemon$1.out" || fail "the daemon did not start: $(cat "$work/daemon$1.out" "$work/daemon$1.err")"
  peer_port=$(sed -n 's/.*peers on port \([0-9]*\).*/\1/p' "$work/daemon$1.out")
  echo "$peer_port" >"$work/peer-port"
}
start_daemon 1
tr() { timeout 20 transmission-remote "$net.1:$rpc_port" "$@"; }

# libtorrent seeds and keeps dialling the daemon's current peer port (from $work/peer-port). Bounded: 150 s.
cat >"$work/lt.py" <<'PY'
import os, sys, time
import libtorrent as lt
net, torrent, src, port_file = sys.argv[1:5]
s = lt.session({'listen_interfaces': net + '.2:0', 'outgoing_interfaces': net + '.2', 'enable_dht': False,
                'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False, 'enable_outgoing_utp': False,
                'enable_incoming_utp': False, 'out_enc_policy': 2, 'in_enc_policy': 2,
                'alert_mask': lt.alert.category_t.error_notification})
p = lt.add_torrent_params(); p.ti = lt.torrent_info(torrent); p.save_path = src
h = s.add_torrent(p)
start = time.time()
while time.time() < start + 30 and not h.status().is_seeding:
    time.sleep(0.1)
print('seeding', flush=True)
while time.time() < start + 150:
    try:
        h.connect_peer((net + '.10', int(open(port_file).read())))
    except Exception as e:
        pass
    time.sleep(1)
PY
timeout -k 5 160 "$python" "$work/lt.py" "$net" "$work/pack.torrent" "$work/src" "$work/peer-port" >"$work/lt.out" 2>&1 &
pids+=("$!")
wait_for seeding "$work/lt.out" 30

# Add, with a low download limit at once so the transfer is still running while we look at it.
tr -a "$work/pack.torrent" | matches success || fail "-a did not succeed"
tr -t 1 -d 300 | matches success || fail "-d did not succeed"
tr -l >"$work/l1" || fail "-l failed"
grep -q " pack$" "$work/l1" || fail "-l does not list the torrent: $(cat "$work/l1")"
tr -t 1 -i >"$work/i1" || fail "-i failed"
grep -q "Name: pack" "$work/i1" && grep -q "Hash: " "$work/i1" && grep -q "Piece Size: 64" "$work/i1" ||
  fail "-i lacks name, hash or piece size: $(cat "$work/i1")"
grep -q "Download Limit: 300 kB/s" "$work/i1" || fail "-i does not show the 300 kB/s limit: $(cat "$work/i1")"
tr -t 1 -f >"$work/f1" || fail "-f failed"
grep -q "pack/a.bin" "$work/f1" && grep -q "pack/b.bin" "$work/f1" || fail "-f lacks the files: $(cat "$work/f1")"
tr -t 1 -G 1 | matches success || fail "-G did not succeed"
tr -t 1 -f | grep "pack/b.bin" | matches " No " || fail "-f does not show b.bin unwanted: $(tr -t 1 -f)"
tr -t 1 -g 1 | matches success || fail "-g did not succeed"
tr -t 1 -f | grep "pack/b.bin" | matches " Yes " || fail "-f does not show b.bin wanted again"
tr -t 1 -it >"$work/it1" || fail "-it failed"
# The seed dials us; wait until it is connected, then see it in -pi.
for _ in $(seq 1 100); do tr -t 1 -pi >"$work/pi1"; grep -q "$net.2" "$work/pi1" && break; sleep 0.2; done
grep -q "$net.2" "$work/pi1" || fail "-pi never showed the libtorrent seed $net.2: $(cat "$work/pi1")"
tr -t 1 -S | matches success || fail "-S did not succeed"
tr -l | matches "Stopped" || fail "-l does not show Stopped: $(tr -l)"
tr -t 1 -s | matches success || fail "-s did not succeed"
tr -t 1 -D | matches success || fail "-D did not succeed"
for _ in $(seq 1 600); do tr -l | matches -E " 100% .* pack$" && break; sleep 0.2; done
tr -l | matches -E " 100% .* pack$" || fail "the download did not complete: $(tr -l; tr -t 1 -i | grep -E "State|Percent")"
cmp -s "$work/src/pack/a.bin" "$work/dl/pack/a.bin" && cmp -s "$work/src/pack/b.bin" "$work/dl/pack/b.bin" ||
  fail "downloaded data differs"
tr -t 1 -v | matches success || fail "-v did not succeed"
for _ in $(seq 1 100); do tr -l | matches -E " 100% .*(Idle|Seeding).* pack$" && break; sleep 0.2; done
tr -l | matches -E " 100% .*(Idle|Seeding).* pack$" || fail "not seeding after -v: $(tr -l)"

# Rename a file of the live torrent (torrent-rename-path; transmission-remote 3.00 has no --rename, so the
# call is made directly, session-id handshake included): moved on disk, listed under its new name.
cat >"$work/rename.py" <<'PY'
import http.client, json, sys
host, port, path, name = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
body = json.dumps({"method": "torrent-rename-path", "arguments": {"ids": [1], "path": path, "name": name}})
session = ""
for _ in range(2):
    c = http.client.HTTPConnection(host, port, timeout=20)
    c.request("POST", "/transmission/rpc", body, {"X-Transmission-Session-Id": session})
    r = c.getresponse()
    data = r.read()
    if r.status == 409:
        session = r.getheader("X-Transmission-Session-Id")
        continue
    print(data.decode())
    break
PY
timeout 30 "$python" "$work/rename.py" "$net.1" "$rpc_port" pack/b.bin c.bin >"$work/rename.out"
grep -q '"result":"success"' "$work/rename.out" || fail "torrent-rename-path did not succeed: $(cat "$work/rename.out")"
[ -e "$work/dl/pack/c.bin" ] && [ ! -e "$work/dl/pack/b.bin" ] || fail "the renamed file was not moved on disk"
cmp -s "$work/src/pack/b.bin" "$work/dl/pack/c.bin" || fail "the renamed file's data differs"
tr -t 1 -f | matches "pack/c.bin" || fail "-f does not show the new name: $(tr -t 1 -f)"

# Session-wide limits (session-set), then none again.
tr -d 2000 -u 700 | matches success || fail "session -d/-u did not succeed"
tr -si >"$work/si" || fail "-si failed"
grep -q "Download speed limit: 2.00 MB/s" "$work/si" && grep -q "Upload speed limit: 700 kB/s" "$work/si" ||
  fail "-si does not show the session limits: $(grep "speed limit" "$work/si")"
tr -D -U | matches success || fail "session -D/-U did not succeed"
tr -si | matches "Download speed limit: Unlimited" || fail "the session download limit was not lifted"
# The alternative ("turtle") limits.
tr -asd 40 -asu 30 -as | matches success || fail "-asd/-asu/-as did not succeed"
tr -si >"$work/si2" || fail "-si failed"
grep -q "Download speed limit: 40 kB/s (.*Enabled turtle limit: 40 kB/s)" "$work/si2" &&
  grep -q "Upload speed limit: 30 kB/s (.*Enabled turtle limit: 30 kB/s)" "$work/si2" ||
  fail "-si does not show the turtle limits: $(grep -i "limit" "$work/si2")"
tr -AS | matches success || fail "-AS did not succeed"
# The encryption policy (session-set `encryption`): required, then preferred again.
tr -er | matches success || fail "-er did not succeed"
tr -si | matches "Encryption: required" || fail "-si does not show encryption required: $(tr -si | grep -i encrypt)"
tr -ep | matches success || fail "-ep did not succeed"
tr -si | matches "Encryption: preferred" || fail "-si does not show encryption preferred: $(tr -si | grep -i encrypt)"

# The watch dir.
cp "$work/other.torrent" "$work/watch/other.torrent"
for _ in $(seq 1 100); do tr -l | matches " other.bin$" && break; sleep 0.2; done
tr -l | matches " other.bin$" || fail "the watch dir's torrent was not added: $(tr -l; cat "$work/daemon1.err")"
[ -e "$work/watch/other.torrent.added" ] || fail "the watch dir's file was not renamed .added"
tr -t 2 -r | matches success || fail "-r did not succeed"

# Restart: SIGTERM, clean exit, then the torrent is back complete without a byte downloaded.
kill -TERM "$daemon_pid"
finish "$daemon_pid"
[ "$status" = 0 ] || fail "the daemon exited with $status on SIGTERM: $(tail -5 "$work/daemon1.err")"
grep -q "stopped" "$work/daemon1.out" || fail "no 'stopped' line after SIGTERM"
start_daemon 2
for _ in $(seq 1 100); do tr -l | matches -E " 100% .* pack$" && break; sleep 0.2; done
tr -l | matches -E " 100% .* pack$" || fail "after a restart the torrent is not back complete: $(tr -l)"
tr -l | matches " other.bin$" && fail "the removed torrent came back after the restart"
tr -t 1 -f | matches "pack/c.bin" || fail "after a restart -f does not show the renamed file: $(tr -t 1 -f)"
tr -t 1 -i >"$work/i2"
grep -qE "Downloaded: (None|0)" "$work/i2" || fail "the restarted daemon downloaded again: $(grep Downloaded "$work/i2")"

# kill -9 (the daemon's own process, under its `timeout`), then the torrent is back complete again.
nbt_pid=$(pgrep -P "$daemon_pid" | head -1)
[ -n "$nbt_pid" ] || fail "no nbt process under timeout $daemon_pid"
kill -9 "$nbt_pid"
finish "$daemon_pid"  # (bash reports the "Killed" job: timeout re-raises the SIGKILL)
start_daemon 3
for _ in $(seq 1 100); do tr -l | matches -E " 100% .* pack$" && break; sleep 0.2; done
tr -l | matches -E " 100% .* pack$" || fail "after kill -9 the torrent is not back complete: $(tr -l)"
tr -t 1 -i | matches -E "Downloaded: (None|0)" || fail "after kill -9 the daemon downloaded again"
tr -t 1 -f | matches "pack/c.bin" || fail "after kill -9 -f does not show the renamed file: $(tr -t 1 -f)"

# A magnet without an info-hash is refused with a clear error (magnets that work: daemon_magnet.sh).
tr -a "magnet:?dn=no-hash" >"$work/magnet.out" 2>&1 && fail "a magnet without a hash was accepted"
grep -q "invalid magnet link" "$work/magnet.out" || fail "no clear magnet refusal: $(cat "$work/magnet.out")"

# Remove with data, then stop.
tr -t 1 --remove-and-delete | matches success || fail "--remove-and-delete did not succeed"
[ ! -e "$work/dl/pack/a.bin" ] && [ ! -e "$work/dl/pack/c.bin" ] || fail "--remove-and-delete left the data"
tr -l | matches " pack$" && fail "the torrent is still listed after removal"
kill -TERM "$daemon_pid"
finish "$daemon_pid"
[ "$status" = 0 ] || fail "the daemon exited with $status on SIGTERM"
echo "daemon_transmission_remote.sh: ok (transmission-remote drove nbt daemon: add, list, info, files, peers, trackers, torrent, session and turtle limits, encryption, rename, stop/start, verify, watch dir, restart, kill -9 restart, remove with data; libtorrent's 4 MiB arrived)"
