#!/usr/bin/env bash
# Web seeds (BEP 19, issue 18) against a real web server: nginx, started by this script on its own 127.x
# address and a free port (not a daemon, its own config, pid, logs and temp files in the work folder, bounded
# by timeout and stopped by PID).
#   1. a multi-file hybrid torrent (pad files between files, names with spaces, `#` and UTF-8) whose url-list
#      is the nginx folder: `nbt download` with no peer at all completes and the files equal the payload;
#      nginx's log shows ranged GETs (206) and no request for a pad file;
#   2. a single-file torrent whose web seed URL ends in `/` (the name is appended): completes alike, and
#      under `--down-limit` no faster than the limit allows;
#   3. mixed: nginx slowed to 64 KiB/s per connection beside a libtorrent peer that lacks one file; the
#      download completes with bytes from both (nginx's log and libtorrent's upload counter);
#   4. a web seed that serves wrong bytes (a corrupted copy) is dropped and the libtorrent peer finishes the
#      download.
# Run by scripts/test with NBT=path to the nbt binary; fails when nginx or libtorrent is missing and
# NBT_REQUIRE_INTEROP=1, else skips.
source "$(dirname "$0")/common.bash"

python=${NBT_PYTHON:-/usr/bin/python3}
nginx_bin=${NBT_NGINX:-/usr/sbin/nginx}
missing=()
[ -x "$nginx_bin" ] || missing+=("nginx")
"$python" -c "import libtorrent" 2>/dev/null || missing+=("python3-libtorrent")
if [ ${#missing[@]} -gt 0 ]; then
  [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ] && fail "missing programs: ${missing[*]}"
  echo "webseed_nginx.sh: skipped (missing ${missing[*]})"
  exit 0
fi

net="127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1))"
web_ip=$net.2 lt_ip=$net.3 nbt_ip=$net.4

free_port() {
  "$python" -c "import socket,sys; s=socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])" "$1"
}

# start_nginx NAME ROOT [EXTRA]: nginx serving ROOT on $web_ip:$web_port (EXTRA: more http-level directives);
# its PID in $nginx_pid.
start_nginx() {
  local dir=$work/nginx-$1
  mkdir -p "$dir/tmp"
  web_port=$(free_port "$web_ip")
  local user=""
  [ "$(id -u)" = 0 ] && user="user root root;"
  cat >"$dir/nginx.conf" <<CONF
$user
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 256; }
http {
  access_log $dir/access.log;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  sendfile on;
  keepalive_requests 100000;
  ${3:-}
  server {
    listen $web_ip:$web_port;
    root $2;
    location / { }
  }
}
CONF
  timeout -k 5 200 "$nginx_bin" -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" -g 'daemon off;' \
    >"$dir/stdout" 2>&1 &
  nginx_pid=$!
  pids+=("$nginx_pid")
  for _ in $(seq 1 100); do
    "$python" -c "import socket; socket.create_connection(('$web_ip', $web_port), 0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "nginx did not start: $(cat "$dir/stdout" "$dir/error.log" 2>/dev/null)"
}

stop_nginx() {
  kill "$nginx_pid" 2>/dev/null || true
  wait "$nginx_pid" 2>/dev/null || true
}

# The multi-file payload: the torrent's folder below the web root, as BEP 19 expects (URL + name + path).
www=$work/www
payload="$www/Album 1"
mkdir -p "$payload/CD #1" "$payload/Ünïcode"
head -c $((3 * 1048576 + 12345)) /dev/urandom >"$payload/CD #1/track one.bin"
head -c 777 /dev/urandom >"$payload/CD #1/small file.txt"
head -c $((2 * 1048576 + 1)) /dev/urandom >"$payload/Ünïcode/été.dat"
head -c $((1048576)) /dev/urandom >"$payload/z last.bin"
start_nginx multi "$www"
multi=$work/multi.torrent
"$NBT" create "$payload" --piece-size 64K --no-date --web-seed "http://$web_ip:$web_port/" -o "$multi" >/dev/null
"$NBT" info "$multi" --json | "$python" -c "import json,sys; sys.exit(0 if json.load(sys.stdin)['webSeeds'] else 1)" ||
  fail "the torrent has no url-list"

check_tree() { # SRC DST: every file of SRC equals the file at the same path in DST
  (cd "$1" && find . -type f) | while read -r file; do
    cmp -s "$1/$file" "$2/$file" || { echo "differs: $file"; return 1; }
  done
}

# 1. nginx alone.
start=$(date +%s.%N)
timeout -k 5 60 "$NBT" download "$multi" -o "$work/dl1" --bind "$nbt_ip" --log-level info >"$work/dl1.out" 2>"$work/dl1.err" ||
  fail "download from nginx alone exited non-zero: $(cat "$work/dl1.out" "$work/dl1.err")"
echo "webseed_nginx.sh: multi-file from nginx alone in $(elapsed_since "$start") s"
# Progress names the web seed, with its bytes in --json (a second, JSON download of the same torrent).
timeout -k 5 60 "$NBT" download "$multi" -o "$work/dl1j" --bind "$nbt_ip" --json >"$work/dl1j.out" 2>"$work/dl1j.err" ||
  fail "--json download from nginx alone exited non-zero: $(cat "$work/dl1j.err")"
"$python" - "$work/dl1j.out" <<'PY' || fail "--json records do not report the web seed: $(tail -3 "$work/dl1j.out")"
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
records = [r for r in records if "message" not in r]
# (Web seeds are made on the torrent's first fill, so records of the hash check come without them.)
assert records and records[-1]["webSeeds"] == 1, records
assert records[-1]["webSeedDownloadedBytes"] > 6 * 1048576, records[-1]
PY
check_tree "$payload" "$work/dl1/Album 1" || fail "multi-file download from nginx differs"
log=$work/nginx-multi/access.log
grep -q '" 206 ' "$log" || fail "no 206 answers in nginx's log: $(head -5 "$log")"
grep -q 'CD%20%231/track%20one.bin' "$log" || fail "no request for the percent-encoded path: $(head -5 "$log")"
grep -q '%C3%9Cn%C3%AFcode/%C3%A9t%C3%A9.dat' "$log" || fail "no request for the UTF-8 path: $(head -5 "$log")"
! grep -q '\.pad' "$log" || fail "a pad file was requested: $(grep '\.pad' "$log" | head -3)"
! grep -qv '" 206 ' "$log" || fail "an answer other than 206: $(grep -v '" 206 ' "$log" | head -3)"
[ "$(awk '{ print $1 }' "$log" | sort -u)" = "$nbt_ip" ] ||
  fail "GETs did not leave from the address nbt is bound to ($nbt_ip): $(awk '{ print $1 }' "$log" | sort -u)"
stop_nginx

# 2. single-file, URL ending in / (the name is appended).
mkdir -p "$work/www2"
head -c $((2 * 1048576 + 999)) /dev/urandom >"$work/www2/single file.bin"
start_nginx single "$work/www2"
single=$work/single.torrent
"$NBT" create "$work/www2/single file.bin" --v1 --piece-size 32K --no-date \
  --web-seed "http://$web_ip:$web_port/" -o "$single" >/dev/null
timeout -k 5 60 "$NBT" download "$single" -o "$work/dl2" --bind "$nbt_ip" >"$work/dl2.out" 2>"$work/dl2.err" ||
  fail "single-file download from nginx exited non-zero: $(cat "$work/dl2.out" "$work/dl2.err")"
cmp -s "$work/www2/single file.bin" "$work/dl2/single file.bin" || fail "single-file download from nginx differs"
grep -q 'GET /single%20file.bin' "$work/nginx-single/access.log" || fail "single-file URL not name-appended"
# 2b. --down-limit holds web seeds back too: 2 MiB at 512 KiB/s takes at least 2.5 s (a lower bound only: a GET
# is paid for up front, so the last one, up to a second of the limit, and one burst come free; an ignored
# limit finishes in well under a second from nginx on loopback).
start=$(date +%s.%N)
timeout -k 5 60 "$NBT" download "$single" -o "$work/dl2b" --bind "$nbt_ip" --down-limit 512K \
  >"$work/dl2b.out" 2>"$work/dl2b.err" ||
  fail "rate-limited download from nginx exited non-zero: $(cat "$work/dl2b.out" "$work/dl2b.err")"
took=$(elapsed_since "$start")
cmp -s "$work/www2/single file.bin" "$work/dl2b/single file.bin" || fail "rate-limited download from nginx differs"
awk -v t="$took" 'BEGIN { exit !(t >= 2.5) }' || fail "--down-limit 512K: 2 MiB from nginx in $took s"
echo "webseed_nginx.sh: 2 MiB from nginx under --down-limit 512K in $took s"
# 2c. a magnet's `ws=`: the metadata comes from an nbt seed (x.pe; slowed to 64 KiB/s), the web seed named only
# in the magnet (metadata carries no url-list) serves pieces too.
seed_ip=$net.5
start_bg "$work/magseed" 90 seed "$single" "$work/www2" --bind "$seed_ip" --up-limit 64K --no-dht
seed_port=$(listen_port "$work/magseed")
magnet=$("$NBT" info "$single" --json | "$python" -c "import json,sys; print(json.load(sys.stdin)['magnet'])")
case "$magnet" in *"ws="*) ;; *) fail "the magnet has no ws=: $magnet" ;; esac
before=$(wc -l <"$work/nginx-single/access.log")
timeout -k 5 60 "$NBT" download "$magnet&x.pe=$seed_ip:$seed_port" -o "$work/dl2c" --bind "$nbt_ip" --no-dht \
  >"$work/dl2c.out" 2>"$work/dl2c.err" ||
  fail "magnet download with ws= exited non-zero: $(cat "$work/dl2c.out" "$work/dl2c.err")"
cmp -s "$work/www2/single file.bin" "$work/dl2c/single file.bin" || fail "magnet download with ws= differs"
after=$(wc -l <"$work/nginx-single/access.log")
[ "$after" -gt "$before" ] || fail "the magnet's web seed was never asked: $(tail -3 "$work/dl2c.err")"
echo "webseed_nginx.sh: magnet with ws= complete: $((after - before)) GETs to nginx"
kill "$last_pid" 2>/dev/null || true
stop_nginx

# 3. mixed: nginx at 64 KiB/s per connection and a libtorrent peer that has every file but `z last.bin` (its
# web seeds removed, so it never asks nginx itself): the download completes only with bytes from both.
start_nginx slow "$www" "limit_rate 64k;"
mixed=$work/mixed.torrent
"$NBT" create "$payload" --piece-size 64K --no-date --web-seed "http://$web_ip:$web_port/" -o "$mixed" >/dev/null
mkdir -p "$work/ltpart/Album 1"
cp -r "$payload/CD #1" "$payload/Ünïcode" "$work/ltpart/Album 1/"
lt_port=$(free_port "$lt_ip")
timeout -k 5 160 "$python" - "$lt_ip" "$lt_port" "$mixed" "$work/ltpart" "$work/lt.status" >"$work/lt.out" 2>&1 <<'PY' &
import sys, time
import libtorrent as lt
ip, port, torrent, save, status = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
s = lt.session({"listen_interfaces": f"{ip}:{port}", "outgoing_interfaces": ip, "enable_dht": False,
                "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
                "enable_outgoing_utp": False, "enable_incoming_utp": False,
                "alert_mask": lt.alert.category_t.error_notification})
ti = lt.torrent_info(torrent)
ti.set_web_seeds([])
p = lt.add_torrent_params(); p.ti = ti; p.save_path = save
h = s.add_torrent(p)
for _ in range(1500):
    for url in h.url_seeds():
        h.remove_url_seed(url)
    st = h.status()
    with open(status, "w") as f:
        f.write(f"{st.state} {st.total_payload_upload} {st.num_pieces}\n")
    time.sleep(0.1)
PY
lt_pid=$!
pids+=("$lt_pid")
for _ in $(seq 1 600); do
  grep -qE "^downloading [0-9]+ [1-9]" "$work/lt.status" 2>/dev/null && break
  sleep 0.1
done
grep -qE "^downloading [0-9]+ [1-9]" "$work/lt.status" ||
  fail "libtorrent does not have part of the payload: $(cat "$work/lt.out" "$work/lt.status")"
start=$(date +%s.%N)
timeout -k 5 60 "$NBT" download "$mixed" -o "$work/dl3" --bind "$nbt_ip" --peer "$lt_ip:$lt_port" \
  --log-level debug >"$work/dl3.out" 2>"$work/dl3.err" ||
  fail "mixed download exited non-zero: $(cat "$work/dl3.out"; tail -5 "$work/dl3.err")"
seconds=$(elapsed_since "$start")
check_tree "$payload" "$work/dl3/Album 1" || fail "mixed download differs"
sleep 0.3
lt_up=$(awk '{ print $2 }' "$work/lt.status")
web_bytes=$(awk '{ n += $10 } END { print n + 0 }' "$work/nginx-slow/access.log")
echo "webseed_nginx.sh: mixed download in $seconds s: $web_bytes bytes from nginx, $lt_up from libtorrent"
[ "$(awk '{ print $1 }' "$work/nginx-slow/access.log" | sort -u)" = "$nbt_ip" ] ||
  fail "mixed: someone else than nbt asked nginx: $(awk '{ print $1 }' "$work/nginx-slow/access.log" | sort -u)"
[ "$web_bytes" -gt 0 ] || fail "mixed: nothing from nginx"
[ "$lt_up" -gt 0 ] ||
  fail "mixed: nothing from libtorrent: $(grep -E "peer (connected|disconnected)|web seed|dial" "$work/dl3.err" | head -5)"
kill "$lt_pid" 2>/dev/null || true
stop_nginx

# 4. a web seed with wrong bytes (same names and sizes, other content) is dropped; the peer finishes.
bad=$work/bad
cp -r "$www" "$bad"
# The first file in the torrent is wrong: the web seed (which starts at piece 0) serves corrupt pieces first.
head -c $((3 * 1048576 + 12345)) /dev/urandom >"$bad/Album 1/CD #1/track one.bin"
start_nginx bad "$bad"
lt_port=$(free_port "$lt_ip")
timeout -k 5 160 "$python" - "$lt_ip" "$lt_port" "$mixed" "$www" "$work/lt4.status" >"$work/lt4.out" 2>&1 <<'PY' &
import sys, time
import libtorrent as lt
ip, port, torrent, save, status = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
s = lt.session({"listen_interfaces": f"{ip}:{port}", "outgoing_interfaces": ip, "enable_dht": False,
                "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
                "enable_outgoing_utp": False, "enable_incoming_utp": False,
                "alert_mask": lt.alert.category_t.error_notification})
# libtorrent does not limit peers on the local network unless its local peer class says so.
local = s.get_peer_class(lt.session.local_peer_class_id)
local["upload_limit"] = 1048576
s.set_peer_class(lt.session.local_peer_class_id, local)
p = lt.add_torrent_params(); p.ti = lt.torrent_info(torrent); p.save_path = save
h = s.add_torrent(p)
for _ in range(1500):
    st = h.status()
    with open(status, "w") as f:
        f.write(f"{st.state} {st.total_payload_upload}\n")
    time.sleep(0.1)
PY
lt_pid=$!
pids+=("$lt_pid")
for _ in $(seq 1 600); do
  grep -q "^seeding" "$work/lt4.status" 2>/dev/null && break
  sleep 0.1
done
# The mixed torrent names the web seed at the old port: point it at the bad server with a new torrent.
badt=$work/bad.torrent
"$NBT" create "$payload" --piece-size 64K --no-date --web-seed "http://$web_ip:$web_port/" -o "$badt" >/dev/null
timeout -k 5 60 "$NBT" download "$badt" -o "$work/dl4" --bind "$nbt_ip" --peer "$lt_ip:$lt_port" \
  --log-level info >"$work/dl4.out" 2>"$work/dl4.err" ||
  fail "download beside a lying web seed exited non-zero: $(cat "$work/dl4.out" "$work/dl4.err" | tail -20)"
check_tree "$payload" "$work/dl4/Album 1" || fail "download beside a lying web seed differs"
grep -q "web seed .* dropped: corruptData" "$work/dl4.err" ||
  fail "the lying web seed was not dropped: $(grep -i "web seed" "$work/dl4.err" | head -5)"
kill "$lt_pid" 2>/dev/null || true
stop_nginx
echo "webseed_nginx.sh: ok"
