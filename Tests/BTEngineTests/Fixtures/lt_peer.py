#!/usr/bin/env python3
"""A libtorrent (python3-libtorrent) peer for the BTEngine client interop tests.

usage: lt_peer.py seed IP TORRENT SAVE_PATH
           seeds SAVE_PATH (data checked first); prints {"port": N} once seeding; runs until stdin closes.
       lt_peer.py partial-seed IP TORRENT SAVE_PATH SKIPPED_FILE
           a partial seed: file SKIPPED_FILE (0-based) is not wanted, SAVE_PATH has the others; prints
           {"port": N} once the wanted files are checked complete (finished, not seeding); runs until stdin
           closes.
       lt_peer.py download IP TORRENT SAVE_PATH PEER_IP PEER_PORT
           downloads into SAVE_PATH from the peer at PEER_IP:PEER_PORT (we dial it: the only peer), prints
           {"done": true, "seconds": S} when every piece is verified, or {"error": ...}, and exits.

Listens on IP only. DHT, LSD, UPnP, NAT-PMP, uTP and encryption are off: plain TCP on loopback.
"""
import json, sys, time
import libtorrent as lt

mode, ip, torrent_path, save_path = sys.argv[1:5]
settings = {
    "listen_interfaces": "%s:0" % ip,
    "outgoing_interfaces": ip,
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_outgoing_utp": False, "enable_incoming_utp": False,
    "out_enc_policy": int(lt.enc_policy.pe_disabled), "in_enc_policy": int(lt.enc_policy.pe_enabled),
    "allow_multiple_connections_per_ip": True,
    "alert_mask": lt.alert.category_t.status_notification | lt.alert.category_t.error_notification,
}
session = lt.session(settings)
params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent_path)
params.save_path = save_path
if mode == "partial-seed":
    priorities = [1] * params.ti.num_files()
    priorities[int(sys.argv[5])] = 0
    params.file_priorities = priorities
handle = session.add_torrent(params)

if mode == "partial-seed":
    deadline = time.time() + 60
    while time.time() < deadline and not handle.status().is_finished:
        time.sleep(0.05)
    status = handle.status()
    if not status.is_finished or status.is_seeding:
        print(json.dumps({"error": "libtorrent is not a partial seed: %s" % status.state}), flush=True)
        sys.exit(1)
    print(json.dumps({"port": session.listen_port()}), flush=True)
    sys.stdin.read()
    sys.exit(0)

if mode == "seed":
    deadline = time.time() + 60
    while time.time() < deadline and not handle.status().is_seeding:
        time.sleep(0.05)
    if not handle.status().is_seeding:
        print(json.dumps({"error": "libtorrent did not start seeding: %s" % handle.status().state}), flush=True)
        sys.exit(1)
    print(json.dumps({"port": session.listen_port()}), flush=True)
    sys.stdin.read()
    sys.exit(0)

peer_ip, peer_port = sys.argv[5], int(sys.argv[6])
start = time.time()
deadline = start + 90
last_connect = 0
while time.time() < deadline:
    status = handle.status()
    if status.is_seeding:
        print(json.dumps({"done": True, "seconds": time.time() - start}), flush=True)
        sys.exit(0)
    if status.num_peers == 0 and time.time() - last_connect > 2:
        handle.connect_peer((peer_ip, peer_port))
        last_connect = time.time()
    time.sleep(0.05)
status = handle.status()
print(json.dumps({"error": "not complete: %.1f%%, %d peers" % (status.progress * 100, status.num_peers)}), flush=True)
sys.exit(1)
