#!/usr/bin/env python3
"""Runs a command; prints 'seconds=WALL cpu=USER+SYS' of it (children included). Usage: timed.py CMD..."""
import resource
import subprocess
import sys
import time

start = time.time()
status = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
wall = time.time() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"seconds={wall:.3f} cpu={usage.ru_utime + usage.ru_stime:.3f} status={status}")
