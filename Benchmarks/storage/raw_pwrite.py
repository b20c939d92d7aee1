#!/usr/bin/env python3
"""Raw baseline: pwrite of random 16 KiB blocks (shuffled offsets) into fresh sparse files of the same sizes
as the torrent's, no hashing. Usage: raw_pwrite.py SOURCE_FOLDER TARGET_FOLDER. Prints MiB/s."""
import os
import random
import sys
import time

source, target = sys.argv[1], sys.argv[2]
files = []
for root, dirs, names in os.walk(source):
    for name in names:
        path = os.path.join(root, name)
        files.append((os.path.relpath(path, source), os.path.getsize(path)))
block = 16384
data = os.urandom(block)
jobs = [(i, off) for i, (_, size) in enumerate(files) for off in range(0, size, block)]
random.shuffle(jobs)
fds = []
for rel, _ in files:
    path = os.path.join(target, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fds.append(os.open(path, os.O_RDWR | os.O_CREAT, 0o644))
total = sum(size for _, size in files)
start = time.time()
for i, off in jobs:
    os.pwrite(fds[i], data[: min(block, files[i][1] - off)], off)
elapsed = time.time() - start
for fd in fds:
    os.close(fd)
print(f"seconds={elapsed:.3f} MiBps={total / elapsed / 1048576:.1f}")
