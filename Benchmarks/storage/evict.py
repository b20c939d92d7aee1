#!/usr/bin/env python3
"""Drops the page cache of every file under FOLDER (fsync, then POSIX_FADV_DONTNEED), leaving the rest of the
cache (programs, libraries) alone, and prints how many of their bytes are still cached (mincore via fincore
when installed). Usage: evict.py FOLDER"""
import os
import subprocess
import sys

paths = [os.path.join(root, name) for root, _, names in os.walk(sys.argv[1]) for name in names]
for path in paths:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
try:
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", *paths], capture_output=True, text=True)
    print(f"cached={sum(int(x) for x in out.stdout.split())}")
except FileNotFoundError:
    print("cached=unknown")
