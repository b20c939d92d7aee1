#!/usr/bin/env python3
"""Idle-peer memory benchmark driver (called by Benchmarks/peers/run).

usage: bench.py NBT WORK RESULTS_MD BUILD_NOTE

In WORK (a scratch folder the caller deletes): makes a 64 MiB single-file torrent of 1,024 pieces (the piece
count of the download benchmark's 1 GiB torrent, so bitfields are the same size), then for each peer count
(env NBT_BENCH_COUNTS, default "50 200") and round (env NBT_BENCH_ROUNDS, default 3), in alternating order,
starts a fresh seed -- libtorrent (lt_seed.py), `nbt seed` and, when env NBT_BENCH_BASELINE names another nbt
binary, that one too (an A/B under the same load) -- opens 4 warm-up connections and closes them, then opens
COUNT connections that each send a handshake with the extension and fast bits, read the seed's handshake and
bitfield, and stay idle for 1.5 s. The seed's RssAnon (/proc/PID/status) growth divided by COUNT is the memory
one idle connected peer costs. Prints a table of medians and writes RESULTS_MD.

Every child gets PR_SET_PDEATHSIG (it dies with this script) and is killed by PID at the end (Benchmarks/common/benchlib.py). Loopback only.
"""
import hashlib
import os
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from benchlib import idle_peers, kill_children, spawn, text_line  # noqa: E402

NBT, WORK, RESULTS, BUILD_NOTE = sys.argv[1:5]
PY = sys.executable
HERE = os.path.dirname(os.path.abspath(__file__))
ROUNDS = int(os.environ.get("NBT_BENCH_ROUNDS", "3"))
COUNTS = [int(c) for c in os.environ.get("NBT_BENCH_COUNTS", "50 200").split()]
BASELINE = os.environ.get("NBT_BENCH_BASELINE")
PIECES, PIECE = 1024, 64 * 1024
WARMUP = 4
IDLE_S = 1.5
def stop(p):
    """Ends a child by its PID: SIGTERM, then SIGKILL after 10 s."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def make_torrent():
    os.makedirs(os.path.join(WORK, "src"), exist_ok=True)
    path = os.path.join(WORK, "src", "data.bin")
    seed = hashlib.sha256(b"nbt peers benchmark").digest()
    with open(path, "wb") as f:
        block = hashlib.sha512(seed).digest() * (PIECE // 64)
        for i in range(PIECES):
            f.write(block[i % 64:] + block[:i % 64])
    torrent = os.path.join(WORK, "data.torrent")
    subprocess.run([PY, "-c", (
        "import libtorrent as lt,sys\n"
        "fs=lt.file_storage(); lt.add_files(fs, sys.argv[1])\n"
        "t=lt.create_torrent(fs, int(sys.argv[2]), flags=lt.create_torrent.v1_only)\n"
        "lt.set_piece_hashes(t, sys.argv[3])\n"
        "open(sys.argv[4],'wb').write(lt.bencode(t.generate()))\n"
        "print(str(lt.torrent_info(sys.argv[4]).info_hash()))"), path, str(PIECE), os.path.join(WORK, "src"),
        torrent], check=True, capture_output=True, text=True, timeout=120)
    info = subprocess.run([PY, "-c", "import libtorrent as lt,sys;print(str(lt.torrent_info(sys.argv[1]).info_hash()))",
                           torrent], check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    return torrent, bytes.fromhex(info)


def start_seed(kind, torrent, ip):
    """Returns (process, port) of a fresh seed: 'libtorrent' or the path of an nbt binary."""
    if kind == "libtorrent":
        p = spawn([PY, os.path.join(HERE, "lt_seed.py"), ip, torrent, os.path.join(WORK, "src")],
                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        m = text_line(p, r'"port": ([0-9]+)', 120, poll=0.2)
    else:
        p = spawn([kind, "seed", torrent, os.path.join(WORK, "src"), "--bind", ip,
                   "--max-peers", str(max(COUNTS) + WARMUP + 10)],
                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        m = text_line(p, r"listening on [0-9.]+:([0-9]+)", 120, poll=0.2)
    if not m:
        stop(p)
        sys.exit(f"{kind} seed did not start")
    return p, int(m.group(1))


def main():
    load = open("/proc/loadavg").read().split()[:3]
    print("making the torrent...", file=sys.stderr, flush=True)
    torrent, info_hash = make_torrent()
    seeds = [("libtorrent", "libtorrent", "127.0.0.1"), ("nbt", NBT, "127.0.0.4")]
    if BASELINE:
        seeds.append(("nbt baseline", BASELINE, "127.0.0.6"))
    samples = {(label, count): [] for label, _, _ in seeds for count in COUNTS}
    notes = []
    for r in range(ROUNDS):
        order = seeds if r % 2 == 0 else list(reversed(seeds))
        for count in COUNTS:
            for label, kind, ip in order:
                print(f"round {r + 1}: {label}, {count} peers", file=sys.stderr, flush=True)
                p, port = start_seed(kind, torrent, ip)
                try:
                    time.sleep(0.5)
                    per, got, alive, before, after = idle_peers(
                        p.pid, ip, port, info_hash, count, warmup=WARMUP, idle_s=IDLE_S)
                finally:
                    stop(p)
                samples[(label, count)].append(per)
                if got != count or alive != count:
                    notes.append(f"round {r + 1} {label} {count}: only {got} answered, {alive} still open")

    lines = [f"Idle-peer memory: {PIECES} pieces of {PIECE // 1024} KiB, loopback TCP, {os.cpu_count()} cores, "
             f"{ROUNDS} rounds (fresh seed each), {WARMUP} warm-up connections first",
             f"load average before the run: {' '.join(load)}; nbt: {BUILD_NOTE}"]
    if BASELINE:
        note = os.environ.get("NBT_BENCH_BASELINE_NOTE")
        lines.append(f"baseline (NBT_BENCH_BASELINE, measured in the same rounds): {BASELINE}"
                     + (f" ({note})" if note else ""))
    lines.append("")
    lines.append(f"{'seed':<14} {'peers':>6} {'KiB/peer median':>16} {'min':>6} {'max':>6}   samples")
    for label, _, _ in seeds:
        for count in COUNTS:
            v = samples[(label, count)]
            lines.append(f"{label:<14} {count:>6} {statistics.median(v):>16.2f} {min(v):>6.2f} {max(v):>6.2f}   "
                         + " ".join(f"{x:.2f}" for x in v))
    lines.append("")
    lines.append("KiB/peer = growth of the seed's RssAnon while COUNT handshaked peers sit idle for "
                 f"{IDLE_S} s, divided by COUNT.")
    lines.extend(notes)
    text = "\n".join(lines)
    print(text)
    with open(RESULTS, "w") as f:
        f.write("# Idle-peer memory benchmark results\n\n")
        f.write(f"Run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `scripts/bench peers` "
                "(Benchmarks/peers/run).\n\n```\n" + text + "\n```\n")


if __name__ == "__main__":
    try:
        main()
    finally:
        kill_children()
