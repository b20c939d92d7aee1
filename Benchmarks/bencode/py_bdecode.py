"""Times a Python-visible bencode decoder on a file: libtorrent.bdecode, fastbencode or bencode.py."""
import sys
import time

which, path, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(path, "rb").read()
if which == "libtorrent":
    import libtorrent
    decode = libtorrent.bdecode
elif which == "fastbencode":
    import fastbencode
    decode = fastbencode.bdecode
else:
    import bencodepy
    decode = bencodepy.decode
for _ in range(max(1, iterations // 10)):
    decode(data)
start = time.perf_counter()
for _ in range(iterations):
    result = decode(data)
assert result is not None
s = (time.perf_counter() - start) / iterations
print(f"{which} {s:.9f} {len(data) / s / 1e6:.1f}")
