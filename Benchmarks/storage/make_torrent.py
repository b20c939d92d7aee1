#!/usr/bin/env python3
"""Makes a v1 torrent over FOLDER/data with libtorrent (files in sorted order). Usage: make_torrent.py FOLDER PIECE OUT"""
import os
import sys

import libtorrent as lt

folder, piece, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fs = lt.file_storage()
for root, dirs, files in os.walk(os.path.join(folder, "data")):
    dirs.sort()
    for name in sorted(files):
        path = os.path.join(root, name)
        fs.add_file(os.path.relpath(path, folder), os.path.getsize(path))
creator = lt.create_torrent(fs, piece, flags=lt.create_torrent.v1_only)
lt.set_piece_hashes(creator, folder)
with open(out, "wb") as f:
    f.write(lt.bencode(creator.generate()))
