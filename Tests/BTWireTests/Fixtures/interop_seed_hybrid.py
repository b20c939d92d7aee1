#!/usr/bin/env python3
"""Seeds a generated file as a hybrid (v1 + v2) torrent from python3-libtorrent, for the BTWire interop tests.

usage: interop_seed_hybrid.py IP WORKDIR SIZE PIECE_LENGTH

Writes WORKDIR/data/payload.bin (deterministic bytes) and WORKDIR/seed.torrent (complete, with piece layers),
prints one JSON line (v1, v2, pieces, port) once seeding, then seeds until stdin closes or it is killed.
DHT, LSD, UPnP, NAT-PMP and uTP are off; only IP (loopback) is used.
"""
import hashlib, json, os, sys, time
import libtorrent as lt

ip, workdir, size, piece_length = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data_dir = os.path.join(workdir, "data")
os.makedirs(data_dir, exist_ok=True)
payload = bytearray()
counter = 0
while len(payload) < size:
    payload += hashlib.sha256(b"nbt-hybrid-%d" % counter).digest()
    counter += 1
with open(os.path.join(data_dir, "payload.bin"), "wb") as f:
    f.write(bytes(payload[:size]))

fs = lt.file_storage()
lt.add_files(fs, os.path.join(data_dir, "payload.bin"))
ct = lt.create_torrent(fs, piece_length)
lt.set_piece_hashes(ct, data_dir)
torrent_bytes = lt.bencode(ct.generate())
with open(os.path.join(workdir, "seed.torrent"), "wb") as f:
    f.write(torrent_bytes)
info = lt.torrent_info(torrent_bytes)
hashes = info.info_hashes()
facts = {"v1": str(hashes.v1), "v2": str(hashes.v2), "pieces": info.num_pieces()}

settings = {
    "listen_interfaces": "%s:0" % ip,
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_outgoing_utp": False, "enable_incoming_utp": False,
    "alert_mask": lt.alert.category_t.status_notification | lt.alert.category_t.error_notification,
}
session = lt.session(settings)
params = lt.add_torrent_params()
params.ti = info
params.save_path = data_dir
params.flags = lt.torrent_flags.seed_mode
handle = session.add_torrent(params)
deadline = time.time() + 30
while time.time() < deadline and not handle.status().is_seeding:
    time.sleep(0.05)
if not handle.status().is_seeding:
    print(json.dumps({"error": "libtorrent did not start seeding"}), flush=True)
    sys.exit(1)
facts["port"] = session.listen_port()
print(json.dumps(facts), flush=True)
sys.stdin.read()
