#!/usr/bin/env python3
"""A real libtorrent (python3-libtorrent) with encryption forced, for the BTMSE interop tests.

usage: libtorrent_mse_peer.py seed IP WORKDIR
       libtorrent_mse_peer.py dial IP WORKDIR TARGET_IP TARGET_PORT

Both modes write a deterministic 300000-byte payload, make a v1 torrent of it (65536-byte pieces) and start
a session listening on IP with MSE forced both ways (out_enc_policy = in_enc_policy = pe_forced,
allowed_enc_level = pe_rc4, prefer_rc4), TCP only, DHT/LSD/UPnP/NAT-PMP off. `seed` seeds the payload and
prints one JSON line {info_hash, pieces, port}; `dial` adds the torrent without its data (a leecher), prints
the JSON line and connects to TARGET_IP:TARGET_PORT. Both then run until stdin closes, 60 s pass, or they
are killed.
"""
import hashlib, json, os, select, sys, time
import libtorrent as lt

mode, ip, workdir = sys.argv[1], sys.argv[2], sys.argv[3]
size, piece_length = 300000, 65536
data_dir = os.path.join(workdir, "data")
os.makedirs(data_dir, exist_ok=True)
payload = bytearray()
counter = 0
while len(payload) < size:
    payload += hashlib.sha1(b"nbt-mse-%d" % counter).digest()
    counter += 1
with open(os.path.join(data_dir, "payload.bin"), "wb") as f:
    f.write(bytes(payload[:size]))
fs = lt.file_storage()
lt.add_files(fs, os.path.join(data_dir, "payload.bin"))
ct = lt.create_torrent(fs, piece_length, flags=lt.create_torrent.v1_only)
lt.set_piece_hashes(ct, data_dir)
info = lt.torrent_info(lt.bencode(ct.generate()))

settings = {
    "listen_interfaces": "%s:0" % ip,
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_outgoing_utp": False, "enable_incoming_utp": False,
    "out_enc_policy": int(lt.enc_policy.pe_forced), "in_enc_policy": int(lt.enc_policy.pe_forced),
    "allowed_enc_level": int(lt.enc_level.pe_rc4), "prefer_rc4": True,
    "alert_mask": lt.alert.category_t.status_notification | lt.alert.category_t.error_notification,
}
session = lt.session(settings)
params = lt.add_torrent_params()
params.ti = info
if mode == "seed":
    params.save_path = data_dir
else:
    params.save_path = os.path.join(workdir, "empty")
handle = session.add_torrent(params)
deadline = time.time() + 30
if mode == "seed":
    while time.time() < deadline and not handle.status().is_seeding:
        time.sleep(0.05)
    if not handle.status().is_seeding:
        print(json.dumps({"error": "libtorrent did not start seeding"}), flush=True)
        sys.exit(1)
else:
    while time.time() < deadline and handle.status().state != lt.torrent_status.downloading:
        time.sleep(0.05)
print(json.dumps({"info_hash": str(info.info_hashes().v1), "pieces": info.num_pieces(),
                  "port": session.listen_port()}), flush=True)
if mode == "dial":
    handle.connect_peer((sys.argv[4], int(sys.argv[5])))
end = time.time() + 60
while time.time() < end:
    readable, _, _ = select.select([sys.stdin], [], [], 0.2)
    if readable and not sys.stdin.read(1):
        break
