#!/usr/bin/env python3
"""A libtorrent (python3-libtorrent) peer that speaks uTP only, for the BTEngine uTP interop tests.

usage: lt_utp_peer.py seed TORRENT SAVE_PATH PORT RESULT
           seeds SAVE_PATH on 127.0.0.1:PORT; writes {"seeding": true} to RESULT once it seeds.
       lt_utp_peer.py download TORRENT SAVE_PATH PORT RESULT PEER_PORT
           downloads into SAVE_PATH from 127.0.0.1:PEER_PORT (dialled over uTP: the only peer) and writes
           {"done": true, "seconds": S} to RESULT once every piece is verified, or {"error": ...}.

Bounded: exits by itself after 90 seconds. TCP, DHT, LSD, UPnP, NAT-PMP and encryption are off. RESULT is
written to RESULT.tmp and renamed, so a reader never sees half of it.
"""
import json, os, sys, time
import libtorrent as lt

mode, torrent_path, save_path, port, result = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
deadline = time.time() + 90


def report(facts):
    with open(result + ".tmp", "w") as f:
        f.write(json.dumps(facts))
    os.rename(result + ".tmp", result)


session = lt.session({
    "listen_interfaces": "127.0.0.1:%d" % port,
    "enable_outgoing_tcp": False, "enable_incoming_tcp": False,
    "enable_outgoing_utp": True, "enable_incoming_utp": True,
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "out_enc_policy": int(lt.enc_policy.pe_disabled), "in_enc_policy": int(lt.enc_policy.pe_enabled),
})
params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent_path)
params.save_path = save_path
handle = session.add_torrent(params)

if mode == "seed":
    while time.time() < deadline and not handle.status().is_seeding:
        time.sleep(0.05)
    report({"seeding": handle.status().is_seeding})
    while time.time() < deadline:
        time.sleep(0.2)
    sys.exit(0)

peer_port = int(sys.argv[6])
start = time.time()
last_connect = 0
while time.time() < deadline:
    status = handle.status()
    if status.is_seeding:
        report({"done": True, "seconds": time.time() - start})
        sys.exit(0)
    if status.num_peers == 0 and time.time() - last_connect > 2:
        handle.connect_peer(("127.0.0.1", peer_port))
        last_connect = time.time()
    time.sleep(0.05)
status = handle.status()
report({"error": "not complete: %.1f%%, %d peers" % (status.progress * 100, status.num_peers)})
sys.exit(1)
