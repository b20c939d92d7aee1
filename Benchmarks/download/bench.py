#!/usr/bin/env python3
"""Download benchmark driver (called by Benchmarks/download/run).

usage: bench.py NBT WORK SIZE_MIB RESULTS_MD BUILD_NOTE

In WORK (a scratch folder the caller deletes): makes SIZE_MIB of multi-file data and a v1 torrent, starts a
libtorrent seed, then measures on loopback, ROUNDS times (env NBT_BENCH_ROUNDS, default 2), in turn:
  libtorrent -> libtorrent   (lt_peer.py download)
  libtorrent -> nbt          (nbt download)
  libtorrent -> baseline nbt (when env NBT_BENCH_BASELINE names another nbt binary: an A/B under equal load)
and once: nbt -> libtorrent (nbt seed, lt_peer.py download), then ROUNDS times nbt -> nbt and, with a baseline,
baseline nbt seed -> nbt (the same downloader: an A/B of the seed), then the memory each seed needs per connected,
handshaked, idle peer (PEERS connections, env NBT_BENCH_PEERS, default 50). Every download is compared file by
file (SHA-1) with the source. Prints a table and writes RESULTS_MD.

Env NBT_BENCH_ENCRYPTION: none (the default: plaintext, `--encryption none` for nbt) or rc4 (MSE with RC4 forced
on every peer: `--encryption required` for nbt, pe_forced + pe_rc4 for libtorrent; the idle-peer memory
measurement, which speaks a plaintext handshake, is skipped).

Every child gets PR_SET_PDEATHSIG (it dies with this script) and is killed by PID at the end (Benchmarks/common/benchlib.py).
"""
import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from benchlib import idle_peers, kill_children, spawn, status_kib, text_line  # noqa: E402

NBT, WORK, SIZE_MIB, RESULTS, BUILD_NOTE = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
PY = sys.executable
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ROUNDS = int(os.environ.get("NBT_BENCH_ROUNDS", "2"))
PEERS = int(os.environ.get("NBT_BENCH_PEERS", "50"))
PIECE = int(os.environ.get("NBT_BENCH_PIECE", str(1 << 20)))
BASELINE = os.environ.get("NBT_BENCH_BASELINE")  # another nbt, measured in the same rounds (A/B)
# NAME=VALUE pairs (space-separated) in the environment of every baseline process: with NBT_BENCH_BASELINE set
# to the binary under test itself, an A/B of one switch (e.g. NBT_UPLOAD_SENDFILE=0).
BASELINE_ENV = dict(pair.split("=", 1) for pair in os.environ.get("NBT_BENCH_BASELINE_ENV", "").split() if "=" in pair)
ENCRYPTION = os.environ.get("NBT_BENCH_ENCRYPTION", "none")
if ENCRYPTION not in ("none", "rc4"):
    sys.exit(f"NBT_BENCH_ENCRYPTION is none or rc4, not {ENCRYPTION}")
# nbt's own default is `preferred` (it would pick RC4 with libtorrent): say which one is measured.
NBT_ENC = ["--encryption", "required" if ENCRYPTION == "rc4" else "none"]
TAG = " (RC4)" if ENCRYPTION == "rc4" else ""
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def wait_rusage(p, limit):
    """Waits for p (killing it after `limit` s); returns (status, wall-from-now-irrelevant, cpu s, maxrss KiB)."""
    deadline = time.time() + limit
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            return p.returncode, usage.ru_utime + usage.ru_stime, usage.ru_maxrss
        if time.time() > deadline:
            p.kill()
        time.sleep(0.002)


def tree_hashes(folder):
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            if name.startswith("."):
                continue  # resume data
            h = hashlib.sha1()
            with open(path, "rb") as f:
                while chunk := f.read(1 << 22):
                    h.update(chunk)
            out[os.path.relpath(path, folder)] = (os.path.getsize(path), h.hexdigest())
    return out


def make_data():
    folder = os.path.join(WORK, "src", "data")
    total = SIZE_MIB << 20
    weights = [1, 3, 2, 5, 8, 1, 4, 2, 6, 3, 7, 2]
    sizes = [total * w // sum(weights) for w in weights]
    sizes[-1] += total - sum(sizes)
    places = ["", "a/", "a/b/", "c/"]
    for p in places:
        os.makedirs(os.path.join(folder, p), exist_ok=True)
    for i, size in enumerate(sizes):
        with open(os.path.join(folder, places[i % 4] + f"file{i:02}.bin"), "wb") as f:
            left = size
            while left:
                n = min(left, 1 << 22)
                f.write(os.urandom(n))
                left -= n
    torrent = os.path.join(WORK, "bench.torrent")
    subprocess.run([PY, os.path.join(ROOT, "Benchmarks/storage/make_torrent.py"), os.path.join(WORK, "src"),
                    str(PIECE), torrent], check=True)
    return torrent


def json_line(p, limit):
    deadline = time.time() + limit
    line = b""
    while time.time() < deadline:
        r, _, _ = select.select([p.stdout], [], [], 0.5)
        if r:
            c = os.read(p.stdout.fileno(), 1)
            if not c:
                return None
            if c == b"\n":
                try:
                    return json.loads(line)
                except ValueError:
                    line = b""
                    continue
            line += c
    return None


def lt_seed(ip, save):
    p = spawn([PY, os.path.join(HERE, "lt_peer.py"), "seed", ip, TORRENT, save], stdin=subprocess.PIPE,
              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    msg = json_line(p, 300)
    if not msg or "port" not in msg:
        sys.exit(f"libtorrent seed did not start: {msg}")
    return p, msg["port"]


def measure(label, args, seed_pid, target, parse, env=None):
    """Runs a downloader to completion (with `env` added to its environment); returns a result row."""
    if os.path.exists(target):
        shutil.rmtree(target)
    os.makedirs(target)
    seed_cpu0 = cpu_seconds(seed_pid)
    start = time.time()
    p = spawn(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
              env=dict(os.environ, **env) if env else None)
    out = b""
    while True:
        r, _, _ = select.select([p.stdout], [], [], 0.5)
        if r:
            c = os.read(p.stdout.fileno(), 65536)
            if not c:
                break
            out += c
        if time.time() - start > 600:
            p.kill()
    code, cpu, rss = wait_rusage(p, 30)
    wall = time.time() - start
    seed_cpu = cpu_seconds(seed_pid) - seed_cpu0
    transfer = parse(out.decode(errors="replace"))
    ok = code == 0 and tree_hashes(os.path.join(target, "data")) == SOURCE_HASHES
    shutil.rmtree(target)
    return dict(label=label, wall=wall, transfer=transfer, cpu=cpu, rss=rss, seed_cpu=seed_cpu, ok=ok, code=code)


def parse_lt(text):
    m = re.search(r'"seconds": ([0-9.]+)', text)
    return float(m.group(1)) if m else None


def parse_nbt(text):
    m = re.search(r"complete, .* in ([0-9.]+) s", text)
    return float(m.group(1)) if m else None


def info_hash_of(torrent):
    out = subprocess.run([PY, "-c", "import libtorrent as lt,sys;"
                          "print(str(lt.torrent_info(sys.argv[1]).info_hash()))", torrent],
                         capture_output=True, text=True, check=True).stdout.strip()
    return bytes.fromhex(out)


def sha1_rate():
    data = b"\0" * (64 << 20)
    start = time.process_time()
    for _ in range(8):
        hashlib.sha1(data).digest()
    return 8 * 64 * 1048576 / (time.process_time() - start) / 1e6


def loopback_rate(total=1 << 30):
    """Raw TCP loopback throughput, python sendall/recv_into with 1 MiB buffers, no disk."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def send():
        c, _ = server.accept()
        block = b"x" * (1 << 20)
        for _ in range(total >> 20):
            c.sendall(block)
        c.close()

    t = threading.Thread(target=send)
    t.start()
    s = socket.create_connection(("127.0.0.1", port))
    buf = bytearray(1 << 20)
    got = 0
    start = time.time()
    while True:
        n = s.recv_into(buf)
        if not n:
            break
        got += n
    wall = time.time() - start
    t.join()
    s.close()
    server.close()
    return got / wall / 1e6


def in_turn(round_index, ours, baseline):
    """The round's steps: ours alone without a baseline; else A and B, swapping which goes first from round to
    round (the download right after another overlaps its writeback, and it looked worse in every stop-15 run,
    whichever binary it was)."""
    if baseline is None:
        return [ours]
    return [ours, baseline] if round_index % 2 == 0 else [baseline, ours]


def main():
    global TORRENT, SOURCE_HASHES
    load = open("/proc/loadavg").read().split()[:3]
    print(f"making {SIZE_MIB} MiB of data in {WORK}...", file=sys.stderr, flush=True)
    TORRENT = make_data()
    SOURCE_HASHES = tree_hashes(os.path.join(WORK, "src", "data"))
    size = sum(v[0] for v in SOURCE_HASHES.values())
    limits = dict(sha1=sha1_rate(), loopback=loopback_rate())
    rows = []
    seed, seed_port = lt_seed("127.0.0.1", os.path.join(WORK, "src"))
    try:
        for r in range(ROUNDS):
            print(f"round {r + 1}: libtorrent -> libtorrent", file=sys.stderr, flush=True)
            rows.append(measure("libtorrent -> libtorrent" + TAG, [
                PY, os.path.join(HERE, "lt_peer.py"), "download", "127.0.0.3", TORRENT, os.path.join(WORK, "lt"),
                "127.0.0.1", str(seed_port)], seed.pid, os.path.join(WORK, "lt"), parse_lt))
            def ours_from_lt():
                print(f"round {r + 1}: libtorrent -> nbt", file=sys.stderr, flush=True)
                rows.append(measure("libtorrent -> nbt" + TAG, [
                    NBT, "download", TORRENT, "-o", os.path.join(WORK, "us"), "--bind", "127.0.0.2",
                    "--peer", f"127.0.0.1:{seed_port}"] + NBT_ENC, seed.pid, os.path.join(WORK, "us"), parse_nbt))

            def baseline_from_lt():
                print(f"round {r + 1}: libtorrent -> nbt (baseline)", file=sys.stderr, flush=True)
                rows.append(measure("libtorrent -> nbt baseline" + TAG, [
                    BASELINE, "download", TORRENT, "-o", os.path.join(WORK, "base"), "--bind", "127.0.0.6",
                    "--peer", f"127.0.0.1:{seed_port}"] + NBT_ENC, seed.pid, os.path.join(WORK, "base"), parse_nbt,
                    env=BASELINE_ENV))
            for step in in_turn(r, ours_from_lt, baseline_from_lt if BASELINE else None):
                step()
        lt_idle = None
        if ENCRYPTION == "none":
            print("libtorrent seed: idle peers", file=sys.stderr, flush=True)
            lt_idle = idle_peers(seed.pid, "127.0.0.1", seed_port, info_hash_of(TORRENT), PEERS)
        lt_seed_rss = status_kib(seed.pid, "VmHWM")
    finally:
        seed.stdin.close()
        seed.kill()
        seed.wait()

    def start_seed(binary, ip, env=None):
        p = spawn([binary, "seed", TORRENT, os.path.join(WORK, "src"), "--bind", ip,
                   "--max-peers", str(PEERS + 10)] + NBT_ENC, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                  stdin=subprocess.DEVNULL, env=dict(os.environ, **env) if env else None)
        m = text_line(p, r"listening on [0-9.]+:([0-9]+)", 300)
        if not m:
            sys.exit(f"{binary} seed did not start")
        return p, int(m.group(1))

    print("nbt seed: checking data", file=sys.stderr, flush=True)
    ours, base_seed = None, None
    try:
        ours, our_port = start_seed(NBT, "127.0.0.4")
        if BASELINE:
            print("baseline nbt seed: checking data", file=sys.stderr, flush=True)
            base_seed, base_port = start_seed(BASELINE, "127.0.0.8", BASELINE_ENV)
        time.sleep(0.5)
        print("nbt -> libtorrent", file=sys.stderr, flush=True)
        rows.append(measure("nbt -> libtorrent" + TAG, [
            PY, os.path.join(HERE, "lt_peer.py"), "download", "127.0.0.5", TORRENT, os.path.join(WORK, "lt2"),
            "127.0.0.4", str(our_port)], ours.pid, os.path.join(WORK, "lt2"), parse_lt))
        # Our client on both ends, for comparison with libtorrent -> libtorrent (the seed stays the same); with
        # a baseline, the baseline's seed to the same downloader in the same rounds.
        for r in range(ROUNDS):
            def from_our_seed():
                print(f"round {r + 1}: nbt -> nbt", file=sys.stderr, flush=True)
                rows.append(measure("nbt -> nbt" + TAG, [
                    NBT, "download", TORRENT, "-o", os.path.join(WORK, "us2"), "--bind", "127.0.0.7",
                    "--peer", f"127.0.0.4:{our_port}"] + NBT_ENC, ours.pid, os.path.join(WORK, "us2"), parse_nbt))

            def from_baseline_seed():
                print(f"round {r + 1}: nbt baseline seed -> nbt", file=sys.stderr, flush=True)
                rows.append(measure("nbt baseline -> nbt" + TAG, [
                    NBT, "download", TORRENT, "-o", os.path.join(WORK, "us3"), "--bind", "127.0.0.9",
                    "--peer", f"127.0.0.8:{base_port}"] + NBT_ENC, base_seed.pid, os.path.join(WORK, "us3"),
                    parse_nbt))
            for step in in_turn(r, from_our_seed, from_baseline_seed if base_seed else None):
                step()
        our_seed_rss = status_kib(ours.pid, "VmHWM")
        our_idle = None
        if ENCRYPTION == "none":
            print("nbt seed: idle peers", file=sys.stderr, flush=True)
            our_idle = idle_peers(ours.pid, "127.0.0.4", our_port, info_hash_of(TORRENT), PEERS)
    finally:
        for p in (ours, base_seed):
            if p is None:
                continue
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    mb = size / 1e6
    lines = []
    lines.append(f"Download benchmark: {size} bytes in {len(SOURCE_HASHES)} files, piece {PIECE}, loopback TCP, "
                 f"{os.cpu_count()} cores")
    lines.append(f"load average before the run: {' '.join(load)}; nbt: {BUILD_NOTE}")
    lines.append("encryption: MSE with RC4 forced on every peer (nbt --encryption required; libtorrent pe_forced, "
                 "pe_rc4)" if ENCRYPTION == "rc4" else "encryption: none (plaintext; nbt --encryption none)")
    if BASELINE:
        note = os.environ.get("NBT_BENCH_BASELINE_NOTE")
        lines.append(f"baseline (NBT_BENCH_BASELINE, measured in the same rounds): {BASELINE}"
                     + (f" ({note})" if note else "")
                     + (f", environment {' '.join(k + '=' + v for k, v in BASELINE_ENV.items())}" if BASELINE_ENV else ""))
    lines.append(f"machine: SHA-1 (python hashlib, one core) {limits['sha1']:.0f} MB/s; "
                 f"raw TCP loopback (python, no disk) {limits['loopback']:.0f} MB/s")
    lines.append("")
    head = (f"{'transfer':<32} {'wall s':>7} {'xfer s':>7} {'MB/s':>7} {'dl cpu s':>9} {'dl peak MiB':>11} "
            f"{'seed cpu s':>10} {'ok':>4}")
    lines.append(head)
    for row in rows:
        t = row["transfer"]
        basis = t if t else row["wall"]
        lines.append(f"{row['label']:<32} {row['wall']:7.2f} {(f'{t:.2f}' if t else '-'):>7} {mb / basis:7.0f} "
                     f"{row['cpu']:9.2f} {row['rss'] / 1024:11.1f} {row['seed_cpu']:10.2f} "
                     f"{('yes' if row['ok'] else 'NO'):>4}")
    lines.append("")
    lines.append("MB/s = payload / xfer s (the downloader's own clock from first dial to last piece verified; wall s is")
    lines.append("the downloader process from spawn to exit, start-up and shutdown included). cpu = user+sys of the")
    lines.append("downloader process (wait4); peak = its max RSS; seed cpu = the seeding process over the same span.")
    lines.append("libtorrent memory-maps the files it moves, so its RSS counts the mapped file pages (page cache).")
    lines.append(f"seed peak RSS (VmHWM): libtorrent {lt_seed_rss / 1024:.1f} MiB, nbt {our_seed_rss / 1024:.1f} MiB")
    for name, idle in (("libtorrent seed", lt_idle), ("nbt seed", our_idle)):
        if idle is None:
            continue
        per, got, alive, before, after = idle
        lines.append(f"{name}: {PEERS} idle handshaked peers ({got} answered, {alive} still open): anonymous RSS "
                     f"{before / 1024:.1f} -> {after / 1024:.1f} MiB, {per:.1f} KiB per peer")
    text = "\n".join(lines)
    print(text)
    # The newest run goes on top; earlier runs are kept below it (the first heading of the old file, the
    # title, is dropped; its own runs move under "Earlier runs").
    earlier = ""
    if os.path.exists(RESULTS):
        old = open(RESULTS).read()
        body = old.split("\n", 1)[1] if old.startswith("# ") else old
        body = body.replace("\n## Earlier runs\n", "\n")
        earlier = "\n## Earlier runs\n" + body.rstrip("\n") + "\n"
    with open(RESULTS, "w") as f:
        f.write("# Download benchmark results\n\n")
        f.write(f"Run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `scripts/bench download` "
                f"(Benchmarks/download/run {SIZE_MIB}, NBT_BENCH_ENCRYPTION={ENCRYPTION}), {ROUNDS} rounds. On a shared machine compare rows of the "
                f"same round and CPU seconds (see README.md).\n\n```\n{text}\n```\n")
        f.write(earlier)
    if not all(r["ok"] for r in rows):
        sys.exit("some download was not byte-identical or failed")


try:
    main()
finally:
    kill_children()
