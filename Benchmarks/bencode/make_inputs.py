"""Writes the benchmark inputs: a 10 MB torrent-shaped document (many files) and a typical 50 KB torrent.
Canonical bencode (sorted keys), deterministic content."""
import hashlib
import os
import sys


def enc(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(enc(x) for x in v) + b"e"
    return b"d" + b"".join(enc(k) + enc(v[k]) for k in sorted(v, key=lambda k: k.encode() if isinstance(k, str) else k)) + b"e"


def torrent(files, piece_count):
    pieces = b"".join(hashlib.sha1(b"%d" % i).digest() for i in range(piece_count))
    info = {
        "files": [{"length": 1000 + i * 7, "path": ["folder%03d" % (i % 500), "file-%06d.dat" % i]} for i in range(files)],
        "name": "benchmark payload",
        "piece length": 262144,
        "pieces": pieces,
    }
    return enc({"announce": "http://127.0.0.1:6969/announce", "created by": "nbt bench", "creation date": 1700000000, "info": info})


out = sys.argv[1]
os.makedirs(out, exist_ok=True)
large = torrent(100_000, 120_000)
open(os.path.join(out, "large.torrent"), "wb").write(large)
typical = torrent(400, 2_000)
open(os.path.join(out, "typical.torrent"), "wb").write(typical)
print("large %d bytes, typical %d bytes" % (len(large), len(typical)))
