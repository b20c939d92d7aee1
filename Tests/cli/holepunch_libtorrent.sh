#!/usr/bin/env bash
# BEP 55 holepunch with libtorrent as the relay (issue 18), inside a network namespace that has only a
# loopback interface (uTP is UDP: nothing may leave the machine). A libtorrent seed R on 127.0.0.20; nbt B on
# 127.0.0.22 behind a "NAT": an nftables rule drops every new connection or UDP flow towards B (TCP and uTP),
# so B can dial out but nobody can dial B; nbt A on 127.0.0.23, and nbt C on 127.0.0.21 so that R's first PEX
# message to B names C, not A (libtorrent then waits a minute before the next). Both reach R over uTP (libtorrent finds a
# rendezvous target by the address it sees, which for uTP is the peer's listen port). A learns B through R's
# PEX (flagged as speaking ut_holepunch), its uTP dial to B is dropped, so it asks R for a rendezvous; R
# sends `connect` to both, B dials A (its outgoing flow is let through, and so is A's reply). Checked: A and B
# connected to each other, B's log says R asked it to connect to A, A's log says it asked R; B's side of the
# connection is outgoing.
# Run by scripts/test with NBT=path to the nbt binary; needs root (unshare), nft and python3-libtorrent: fails
# when one is missing and NBT_REQUIRE_INTEROP=1, else skips. Every program is bounded by `timeout` and killed by
# PID at the end.
if [ -z "${NBT_IN_NETNS:-}" ]; then
  python=${NBT_PYTHON:-/usr/bin/python3}
  missing=""
  { [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v ip >/dev/null; } || missing="root, unshare and ip"
  command -v nft >/dev/null || missing="$missing nft"
  "$python" -c "import libtorrent" 2>/dev/null || missing="$missing python3-libtorrent"
  if [ -n "$missing" ]; then
    [ "${NBT_REQUIRE_INTEROP:-0}" = 1 ] && { echo "FAIL: holepunch_libtorrent.sh: needs $missing" >&2; exit 1; }
    echo "holepunch_libtorrent.sh: skipped (needs $missing)"
    exit 0
  fi
  exec unshare --net env NBT_IN_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
source "$(dirname "$0")/common.bash"
[ "$(ip -o link | grep -vc ': lo:')" = 0 ] || fail "the namespace has interfaces besides lo: $(ip -o link)"
python=${NBT_PYTHON:-/usr/bin/python3}

# B's NAT: new flows towards 127.0.0.22 are dropped; replies to B's own flows pass (conntrack).
nft add table inet nat_b
nft add chain inet nat_b input '{ type filter hook input priority 0; }'
nft add rule inet nat_b input ip daddr 127.0.0.22 ct state new drop

make_payload holepunch.bin 4
torrent=$work/holepunch.bin.torrent

# R: libtorrent seeds over uTP and TCP, PEX and holepunch on (its defaults), bounded to 80 s.
lt_port=$((20000 + RANDOM % 20000))
timeout -k 5 80 "$python" - "$lt_port" "$torrent" "$work/src" >"$work/lt.out" 2>&1 <<'EOF' &
import sys, time
import libtorrent as lt
port, torrent, save = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = lt.session({"listen_interfaces": "127.0.0.20:%d" % port, "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False, "enable_incoming_utp": True,
                "enable_outgoing_utp": True, "alert_mask": lt.alert.category_t.error_notification})
p = lt.add_torrent_params(); p.ti = lt.torrent_info(torrent); p.save_path = save
h = s.add_torrent(p)
while not h.status().is_seeding:
    time.sleep(0.1)
print("seeding", flush=True)  # peer_info.flags 0x20000 is utp_socket (not in the Python binding)
start = time.time()
while time.time() < start + 75:
    time.sleep(2)
    print("peers", sorted("%s:%d %s" % (q.ip[0], q.ip[1], "utp" if q.flags & 0x20000 else "tcp")
                          for q in h.get_peer_info()), flush=True)
EOF
pids+=("$!")
wait_for "^seeding" "$work/lt.out" 30

# Leechers slowed so that they stay leechers. C first, then B: libtorrent sends its first PEX message to a
# peer once it has two, then one a minute, so B's first one names C and B cannot learn A from R before the
# test ends. Then A.
common=(--port 0 --no-dht --no-lsd --transport utp --down-limit 16K --peer "127.0.0.20:$lt_port" --log-level debug)
start_bg "$work/c" 70 download "$torrent" -o "$work/c" --bind 127.0.0.21 "${common[@]}"
c_port=$(listen_port "$work/c")
wait_for "127.0.0.21:$c_port utp" "$work/lt.out" 20
start_bg "$work/b" 70 download "$torrent" -o "$work/b" --bind 127.0.0.22 "${common[@]}"
b_port=$(listen_port "$work/b")
wait_for "127.0.0.22:$b_port utp" "$work/lt.out" 20
wait_for "ut_pex received" "$work/b.err" 10
sleep 3
start_bg "$work/a" 70 download "$torrent" -o "$work/a" --bind 127.0.0.23 "${common[@]}"
a_port=$(listen_port "$work/a")

wait_for "127.0.0.20:$lt_port asks us to connect to 127.0.0.23:$a_port" "$work/b.err" 30
wait_for "asking 127.0.0.20:$lt_port for a holepunch rendezvous" "$work/a.err" 5
# A and B connected: A's log names B as a connected peer (B dialled A, so from A's side B's port is ephemeral).
for _ in $(seq 1 100); do
  grep -q "incoming=true peer=127.0.0.22:[0-9]* torrent=holepunch.bin .*peer connected" "$work/a.err" && break
  sleep 0.1
done
grep -q "incoming=true peer=127.0.0.22:[0-9]* torrent=holepunch.bin .*peer connected" "$work/a.err" ||
  fail "A never got B's connection: $(grep -i 'holepunch\|127.0.0.22' "$work/a.err" | tail -5)"
# Before R's connect, nothing from A reached B (after it, A's own dial may pass the hole B's dial made).
sed -n '1,/asks us to connect/p' "$work/b.err" | grep -q "incoming=true peer=127.0.0.23" &&
  fail "A reached B directly through its NAT"
echo "holepunch_libtorrent.sh: ok (libtorrent $("$python" -c 'import libtorrent; print(libtorrent.__version__)') relayed:" \
  "A asked it for a rendezvous with B, which takes no incoming flow, and B dialled A over uTP)"
