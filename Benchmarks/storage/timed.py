#!/usr/bin/env python3
"""Runs a command; prints 'seconds=WALL cpu=USER+SYS user=USER sys=SYS status=N' of it (children included).

Usage: timed.py OUT CMD...   (the command's standard output goes to the file OUT)"""
import resource
import subprocess
import sys
import time

out, command = sys.argv[1], sys.argv[2:]
with open(out, "wb") as sink:
    start = time.time()
    status = subprocess.run(command, stdout=sink).returncode
    wall = time.time() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(
    f"seconds={wall:.3f} cpu={usage.ru_utime + usage.ru_stime:.3f} user={usage.ru_utime:.3f} "
    f"sys={usage.ru_stime:.3f} status={status}"
)
