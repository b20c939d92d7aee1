"""Helpers shared by the benchmark drivers (Benchmarks/*/bench.py): child processes that die with the
driver and are killed by PID at the end, /proc figures, reading a child's output with a time bound, and the
idle-peer memory measurement (handshaked connections that sit idle against a seed). Loopback only.

A driver imports it with `sys.path.insert(0, <Benchmarks/common>)`.
"""
import ctypes
import os
import re
import select
import signal
import socket
import subprocess
import time

children = []


def die_with_parent():
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def spawn(args, **kw):
    """Starts a child that dies with this process; `kill_children` ends it at the latest."""
    p = subprocess.Popen(args, preexec_fn=die_with_parent, **kw)
    children.append(p)
    return p


def kill_children():
    """Kills, by PID, every child still running (for a driver's `finally`)."""
    for child in children:
        if child.poll() is None:
            child.kill()
            child.wait()


def status_kib(pid, key):
    """A kB figure of /proc/PID/status (RssAnon, VmHWM, ...); 0 when absent."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def text_line(p, pattern, limit, poll=0.5):
    """Reads p's stdout until `pattern` matches (the match) or `limit` s pass or it closes (None)."""
    deadline = time.time() + limit
    buf = b""
    while time.time() < deadline:
        r, _, _ = select.select([p.stdout], [], [], poll)
        if r:
            c = os.read(p.stdout.fileno(), 4096)
            if not c:
                return None
            buf += c
            m = re.search(pattern, buf.decode(errors="replace"))
            if m:
                return m
    return None


def handshake(host, port, info_hash, source=None):
    """A connection (from the loopback address `source` when given) that sent a BitTorrent handshake with the
    extension and fast bits."""
    s = socket.create_connection((host, port), timeout=10, source_address=(source, 0) if source else None)
    reserved = bytes([0, 0, 0, 0, 0, 0x10, 0, 0x04])  # extension protocol + fast
    s.sendall(bytes([19]) + b"BitTorrent protocol" + reserved + info_hash + b"-XX0000-" + os.urandom(12))
    return s


def answered(s):
    """Reads the seed's handshake and first message (its bitfield or have-all)."""
    try:
        data = b""
        while len(data) < 68 + 5:
            c = s.recv(65536)
            if not c:
                break
            data += c
        return len(data) >= 68
    except OSError:
        return False


def still_open(s):
    s.setblocking(False)
    try:
        return s.recv(65536) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def idle_peers(pid, host, port, info_hash, count, warmup=0, idle_s=1.5):
    """`warmup` connections opened, answered and closed first (then 0.5 s); then `count` handshaked
    connections that read the seed's answer and sit idle `idle_s` s. Returns (RssAnon growth per peer in KiB,
    answered, still open, RssAnon before, after)."""
    if warmup:
        warm = [handshake(host, port, info_hash, f"127.8.{i // 250}.{i % 250 + 1}") for i in range(warmup)]
        for s in warm:
            answered(s)
        for s in warm:
            s.close()
        time.sleep(0.5)
    before = status_kib(pid, "RssAnon")
    # Each idle peer from its own loopback address, as real peers are: seeds limit connections per address
    # (ours to 4, libtorrent to 1 unless allow_multiple_connections_per_ip).
    socks = [handshake(host, port, info_hash, f"127.9.{i // 250}.{i % 250 + 1}") for i in range(count)]
    got = sum(answered(s) for s in socks)
    time.sleep(idle_s)
    alive = sum(still_open(s) for s in socks)
    after = status_kib(pid, "RssAnon")
    for s in socks:
        s.close()
    return (after - before) / max(count, 1), got, alive, before, after
