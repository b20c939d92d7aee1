#!/usr/bin/env python3
"""A libtorrent seed for the idle-peer memory benchmark.

usage: lt_seed.py IP TORRENT SAVE_PATH
    checks and seeds SAVE_PATH; prints {"port": N} once seeding; runs until stdin closes.

TCP only on loopback (DHT, LSD, UPnP, NAT-PMP, uTP, encryption off), several connections per IP allowed and a
connection limit above the benchmark's peer count; otherwise libtorrent's default settings.
"""
import json
import sys
import time

import libtorrent as lt

ip, torrent_path, save_path = sys.argv[1:4]
session = lt.session({
    "listen_interfaces": "%s:0" % ip,
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_outgoing_utp": False, "enable_incoming_utp": False,
    "out_enc_policy": int(lt.enc_policy.pe_disabled), "in_enc_policy": int(lt.enc_policy.pe_enabled),
    "allow_multiple_connections_per_ip": True,
    "connections_limit": 1000,
    "alert_mask": lt.alert.category_t.error_notification,
})
params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent_path)
params.save_path = save_path
params.max_connections = 1000
handle = session.add_torrent(params)
deadline = time.time() + 120
while time.time() < deadline and not handle.status().is_seeding:
    time.sleep(0.05)
if not handle.status().is_seeding:
    print(json.dumps({"error": "libtorrent did not start seeding: %s" % handle.status().state}), flush=True)
    sys.exit(1)
print(json.dumps({"port": session.listen_port()}), flush=True)
sys.stdin.read()
