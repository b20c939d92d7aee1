#!/usr/bin/env python3
"""A libtorrent peer tuned for loopback speed, for the download benchmark.

usage: lt_peer.py seed IP TORRENT SAVE_PATH
           checks and seeds SAVE_PATH; prints {"port": N} once seeding; runs until stdin closes.
       lt_peer.py download IP TORRENT SAVE_PATH PEER_IP PEER_PORT [TIMEOUT_S]
           dials PEER_IP:PEER_PORT (the only peer), prints {"done": true, "seconds": S} once every piece is
           verified (S counts from the first dial) or {"error": ...}, and exits.

TCP only on loopback (DHT, LSD, UPnP, NAT-PMP, uTP, encryption off), no rate limits, large send buffers and
request queues, several connections per IP allowed. With NBT_BENCH_ENCRYPTION=rc4 in the environment: MSE with
RC4 forced both ways instead (out_enc_policy/in_enc_policy forced, allowed_enc_level rc4, prefer_rc4).
"""
import json
import os
import sys
import time

import libtorrent as lt

mode, ip, torrent_path, save_path = sys.argv[1:5]
settings = {
    "listen_interfaces": "%s:0" % ip,
    "outgoing_interfaces": ip,
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_outgoing_utp": False, "enable_incoming_utp": False,
    "out_enc_policy": int(lt.enc_policy.pe_disabled), "in_enc_policy": int(lt.enc_policy.pe_enabled),
    "allow_multiple_connections_per_ip": True,
    "download_rate_limit": 0, "upload_rate_limit": 0,
    "send_buffer_watermark": 64 * 1024 * 1024 // 1024,  # KiB
    "send_buffer_low_watermark": 8 * 1024 * 1024 // 1024,
    "send_buffer_watermark_factor": 150,
    "max_queued_disk_bytes": 64 * 1024 * 1024,
    "max_out_request_queue": 1500,
    "max_allowed_in_request_queue": 2000,
    "request_queue_time": 3,
    "recv_socket_buffer_size": 4 * 1024 * 1024,
    "send_socket_buffer_size": 4 * 1024 * 1024,
    "alert_mask": lt.alert.category_t.status_notification | lt.alert.category_t.error_notification,
}
if os.environ.get("NBT_BENCH_ENCRYPTION", "none") == "rc4":
    settings.update({"out_enc_policy": int(lt.enc_policy.pe_forced), "in_enc_policy": int(lt.enc_policy.pe_forced),
                     "allowed_enc_level": int(lt.enc_level.pe_rc4), "prefer_rc4": True})
session = lt.session(settings)
params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent_path)
params.save_path = save_path
handle = session.add_torrent(params)

if mode == "seed":
    deadline = time.time() + 300
    while time.time() < deadline and not handle.status().is_seeding:
        time.sleep(0.05)
    if not handle.status().is_seeding:
        print(json.dumps({"error": "libtorrent did not start seeding: %s" % handle.status().state}), flush=True)
        sys.exit(1)
    print(json.dumps({"port": session.listen_port()}), flush=True)
    sys.stdin.read()
    sys.exit(0)

peer_ip, peer_port = sys.argv[5], int(sys.argv[6])
limit = float(sys.argv[7]) if len(sys.argv) > 7 else 300
# Wait for the (empty) torrent to be ready before the clock starts.
ready = time.time() + 60
while time.time() < ready and handle.status().state in (lt.torrent_status.checking_files,
                                                        lt.torrent_status.checking_resume_data):
    time.sleep(0.01)
start = time.time()
deadline = start + limit
last_connect = 0
while time.time() < deadline:
    status = handle.status()
    if status.is_seeding:
        print(json.dumps({"done": True, "seconds": time.time() - start}), flush=True)
        sys.exit(0)
    if status.num_peers == 0 and time.time() - last_connect > 2:
        handle.connect_peer((peer_ip, peer_port))
        last_connect = time.time()
    time.sleep(0.01)
status = handle.status()
print(json.dumps({"error": "not complete: %.1f%%, %d peers" % (status.progress * 100, status.num_peers)}), flush=True)
sys.exit(1)
