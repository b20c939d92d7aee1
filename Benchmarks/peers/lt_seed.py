#!/usr/bin/env python3
"""A libtorrent seed for the idle-peer memory benchmark.

usage: lt_seed.py IP TORRENT SAVE_PATH [defaults]
    checks and seeds SAVE_PATH; prints {"port": N} once seeding; runs until stdin closes.
    `defaults`: libtorrent's own connection limits (one connection per IP, `connections_limit` 200), for the
    attack benchmark's slot exhaustion; without it, the limits below.

TCP only on loopback (DHT, LSD, UPnP, NAT-PMP, uTP, encryption off), several connections per IP allowed and a
connection limit above the benchmark's peer count; otherwise libtorrent's default settings.
"""
import json
import sys
import time

import libtorrent as lt

ip, torrent_path, save_path = sys.argv[1:4]
settings = {
    "listen_interfaces": "%s:0" % ip,
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_outgoing_utp": False, "enable_incoming_utp": False,
    "out_enc_policy": int(lt.enc_policy.pe_disabled), "in_enc_policy": int(lt.enc_policy.pe_enabled),
    "alert_mask": lt.alert.category_t.error_notification,
}
defaults = sys.argv[4:5] == ["defaults"]
if not defaults:
    settings.update({"allow_multiple_connections_per_ip": True, "connections_limit": 1000})
session = lt.session(settings)
params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent_path)
params.save_path = save_path
if not defaults:
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
