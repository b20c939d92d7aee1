#!/usr/bin/env python3
"""Seeds a generated file from a real client for the BTWire interop tests.

usage: interop_seed.py libtorrent IP WORKDIR SIZE PIECE_LENGTH
       interop_seed.py make-torrent IP WORKDIR SIZE PIECE_LENGTH   (writes WORKDIR/seed.torrent only)

Writes WORKDIR/data/payload.bin (deterministic bytes), makes a v1 torrent with python3-libtorrent and prints
one JSON line: info_hash, piece_length, total, pieces, piece0_sha1 and (libtorrent mode) the listen port once
the torrent is seeding. Then (libtorrent mode) seeds until stdin closes or it is killed. DHT, LSD, UPnP,
NAT-PMP and uTP are off; only IP (loopback) is used.
"""
import hashlib, json, os, sys, time
import libtorrent as lt

mode, ip, workdir, size, piece_length = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
data_dir = os.path.join(workdir, "data")
os.makedirs(data_dir, exist_ok=True)
payload = bytearray()
counter = 0
while len(payload) < size:
    payload += hashlib.sha1(b"nbt-interop-%d" % counter).digest()
    counter += 1
payload = bytes(payload[:size])
with open(os.path.join(data_dir, "payload.bin"), "wb") as f:
    f.write(payload)

fs = lt.file_storage()
lt.add_files(fs, os.path.join(data_dir, "payload.bin"))
ct = lt.create_torrent(fs, piece_length, flags=lt.create_torrent.v1_only)
lt.set_piece_hashes(ct, data_dir)
torrent_bytes = lt.bencode(ct.generate())
with open(os.path.join(workdir, "seed.torrent"), "wb") as f:
    f.write(torrent_bytes)
info = lt.torrent_info(torrent_bytes)
facts = {
    "info_hash": str(info.info_hashes().v1),
    "piece_length": piece_length,
    "total": size,
    "pieces": info.num_pieces(),
    "piece0_sha1": hashlib.sha1(payload[:piece_length]).hexdigest(),
}
if mode == "make-torrent":
    print(json.dumps(facts), flush=True)
    sys.exit(0)

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
params.flags = lt.torrent_flags.seed_mode if hasattr(lt.torrent_flags, "seed_mode") else 0
handle = session.add_torrent(params)
deadline = time.time() + 30
while time.time() < deadline and not handle.status().is_seeding:
    time.sleep(0.05)
if not handle.status().is_seeding:
    print(json.dumps({"error": "libtorrent did not start seeding"}), flush=True)
    sys.exit(1)
facts["port"] = session.listen_port()
print(json.dumps(facts), flush=True)
# Seed until the test closes our stdin (or kills us).
sys.stdin.read()
