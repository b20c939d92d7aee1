#!/usr/bin/env python3
"""Creates a torrent with libtorrent over FOLDER/data and prints what BTStorage needs as JSON.

Usage: libtorrent_make_torrent.py FOLDER MODE PIECE_LENGTH   (MODE: v1, v2 or hybrid)

The layout is taken from libtorrent's own torrent_info (pad files included, as libtorrent places them),
so the Swift test checks our hashing against libtorrent's hashes, independently of our torrent parser.
"""
import json
import os
import sys

import libtorrent as lt

folder, mode, piece_length = sys.argv[1], sys.argv[2], int(sys.argv[3])
fs = lt.file_storage()
# Sorted order: libtorrent's add_files follows directory order (see INTEROP.md).
for root, dirs, files in os.walk(os.path.join(folder, "data")):
    dirs.sort()
    for name in sorted(files):
        path = os.path.join(root, name)
        fs.add_file(os.path.relpath(path, folder), os.path.getsize(path))
flags = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only, "hybrid": 0}[mode]
creator = lt.create_torrent(fs, piece_length, flags=flags)
lt.set_piece_hashes(creator, folder)
entry = creator.generate()
info = lt.torrent_info(entry)
files = info.files()
out = {
    "pieceLength": info.piece_length(),
    "pieceCount": info.num_pieces(),
    "files": [],
    "v1Hashes": "",
    "layers": {},
    "infoHashV1": None,
    "infoHashV2": None,
}
hashes = info.info_hashes()
if hashes.has_v1():
    out["infoHashV1"] = hashes.v1.to_bytes().hex()
    out["v1Hashes"] = "".join(info.hash_for_piece(i).hex() for i in range(info.num_pieces()))
if hashes.has_v2():
    out["infoHashV2"] = hashes.v2.to_bytes().hex()
for i in range(files.num_files()):
    root = files.root(i).to_bytes().hex()
    out["files"].append({
        "path": files.file_path(i).split("/"),
        "length": files.file_size(i),
        "offset": files.file_offset(i),
        "pad": bool(files.file_flags(i) & lt.file_storage.flag_pad_file),
        "root": None if set(root) == {"0"} else root,
    })
for key, value in entry.get(b"piece layers", {}).items():
    out["layers"][key.hex()] = value.hex()
json.dump(out, sys.stdout)
