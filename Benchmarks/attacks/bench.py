#!/usr/bin/env python3
"""Attacks from outside against a seed on loopback (issue 12), `nbt seed` and libtorrent side by side.

usage: bench.py NBT WORK RESULTS_MD BUILD_NOTE

In WORK (a scratch folder the caller deletes) it makes a 64 MiB torrent (1 MiB pieces), then runs each attack
against a fresh seed of each kind and measures the seed from /proc (RssAnon growth, CPU seconds):

1. request+cancel flood: 2 connections with the fast extension that read the seed's first messages, then
   send `request`+`cancel` pairs for an allowed-fast (or, once unchoked, any) piece without ever reading
   again, for 20 s: the seed's peak memory growth and CPU, and when it closed them.
2. trickled messages: 8 connections each sending 1 MiB of keep-alive messages in 64-byte writes, against the
   same bytes in 16 KiB writes from 8 other connections: the seed's CPU per MiB each way (the ratio is the
   figure: decoding must cost O(bytes), not O(bytes x writes)); and 8 connections each trickling one 1 MiB
   message of an unknown id (what the seed does with it, and its CPU), sixteen 64 KiB extension messages of an
   unassigned extended id, and 1 MiB of `interested` messages (small messages no budget limits).
3. slot exhaustion: 250 connections from one address that handshake, say `interested` and stay silent,
   then an honest `nbt download` from another address: whether and how fast it completes beside them.
4. stripped piece layers: a hybrid torrent with its `piece layers` removed (same info-hash) downloaded by
   `nbt download` from an `nbt seed` of the full torrent; a v2-only one without layers must fail fast.
5. have/bitfield flood: 2 connections that announce one piece, then send redundant `have`s and repeated
   bitfields, reading everything the seed sends, for 20 s at most: memory, CPU, when the seed closed them.
6. garbage after the handshake: 2 connections that handshake and then send random bytes for 10 s at most.
7. lying tracker: `nbt download` announces to a fake HTTP tracker on loopback that answers with 40,000
   junk loopback peers (compact), or 10,000 dictionaries with junk `ip`s, the honest seed's address last:
   the downloader's memory and CPU, and whether the download completes.

Every child gets PR_SET_PDEATHSIG and is killed by PID at the end (Benchmarks/common/benchlib.py).
Loopback only.
"""
import hashlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from benchlib import kill_children, spawn, status_kib, text_line  # noqa: E402

NBT, WORK, RESULTS, BUILD_NOTE = sys.argv[1:5]
PY = sys.executable
HERE = os.path.dirname(os.path.abspath(__file__))
PIECE = 1 << 20
SIZE = 64 << 20
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def make_data():
    src = os.path.join(WORK, "src")
    os.makedirs(src, exist_ok=True)
    path = os.path.join(src, "data.bin")
    block = hashlib.sha512(b"nbt attacks").digest() * (PIECE // 64)
    with open(path, "wb") as f:
        for i in range(SIZE // PIECE):
            f.write(block[i % 64:] + block[:i % 64])
    torrents = {}
    for kind in ("v1", "hybrid", "v2"):
        out = os.path.join(WORK, f"data-{kind}.torrent")
        subprocess.run([NBT, "create", path, f"--{kind}", "--piece-size", "1M", "--no-date", "-o", out],
                       check=True, capture_output=True, timeout=300)
        torrents[kind] = out
    info = subprocess.run([NBT, "info", torrents["v1"], "--json"], check=True, capture_output=True, text=True,
                          timeout=60).stdout
    import json
    return src, torrents, bytes.fromhex(json.loads(info)["infoHashV1"])


def start_seed(kind, torrent, src, ip, lt_defaults=False):
    """`lt_defaults`: libtorrent with its own connection limits (one per IP), not the benchmark's raised ones."""
    if kind == "libtorrent":
        p = spawn([PY, os.path.join(HERE, "..", "peers", "lt_seed.py"), ip, torrent, src]
                  + (["defaults"] if lt_defaults else []),
                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        m = text_line(p, r'"port": ([0-9]+)', 120, poll=0.2)
    else:
        p = spawn([NBT, "seed", torrent, src, "--bind", ip], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                  stderr=subprocess.DEVNULL)
        m = text_line(p, r"listening on [0-9.]+:([0-9]+)", 120, poll=0.2)
    if not m:
        stop(p)
        sys.exit(f"{kind} seed did not start")
    # Drain the seed's stdout so it never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in iter(lambda: p.stdout.read(65536), b"")], daemon=True).start()
    time.sleep(0.5)
    return p, int(m.group(1))


def handshake(host, port, info_hash, source):
    s = socket.create_connection((host, port), timeout=10, source_address=(source, 0))
    s.sendall(bytes([19]) + b"BitTorrent protocol" + bytes([0, 0, 0, 0, 0, 0x10, 0, 0x04]) + info_hash
              + b"-XX0000-" + os.urandom(12))
    return s


def read_messages(s, seconds):
    """Reads for `seconds` and returns the messages (id, payload) after the 68-byte handshake."""
    s.settimeout(0.1)
    data = b""
    end = time.time() + seconds
    while time.time() < end:
        try:
            c = s.recv(65536)
            if not c:
                break
            data += c
        except socket.timeout:
            continue
        except OSError:
            break
    data = data[68:]
    out = []
    while len(data) >= 4:
        n = struct.unpack(">I", data[:4])[0]
        if len(data) < 4 + n:
            break
        if n:
            out.append((data[4], data[5:4 + n]))
        data = data[4 + n:]
    return out


class Sampler:
    """Samples a process's RssAnon every 0.1 s on a thread; `peak` is the most seen."""

    def __init__(self, pid):
        self.pid, self.peak, self.running = pid, 0, True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            try:
                self.peak = max(self.peak, status_kib(self.pid, "RssAnon"))
            except OSError:
                return
            time.sleep(0.1)

    def stop(self):
        self.running = False
        self.thread.join()
        return self.peak


def flood(kind, torrent, src, info_hash, ip):
    p, port = start_seed(kind, torrent, src, ip)
    try:
        base = status_kib(p.pid, "RssAnon")
        cpu0 = cpu_seconds(p.pid)
        sampler = Sampler(p.pid)
        socks, closed_at = [], {}
        for i in range(2):
            s = handshake(ip, port, info_hash, f"127.10.0.{i + 1}")
            s.sendall(struct.pack(">IB", 1, 2))  # interested
            socks.append(s)
        pieces = []
        for s in socks:
            msgs = read_messages(s, 1.5)
            fast = [struct.unpack(">I", m[1])[0] for m in msgs if m[0] == 17]
            unchoked = any(m[0] == 1 for m in msgs)
            pieces.append(fast[0] if fast else (0 if unchoked else None))
        start = time.time()
        batch = b"".join(struct.pack(">IBIII", 13, 6, 0, 0, 16384) + struct.pack(">IBIII", 13, 8, 0, 0, 16384)
                         for _ in range(1000))
        batches = [batch.replace(struct.pack(">III", 0, 0, 16384), struct.pack(">III", piece or 0, 0, 16384))
                   for piece in pieces]
        for s in socks:
            s.setblocking(False)
        sent = [0, 0]
        while time.time() - start < 20 and len(closed_at) < len(socks):
            for i, s in enumerate(socks):
                if i in closed_at:
                    continue
                try:
                    sent[i] += s.send(batches[i])
                except BlockingIOError:
                    pass
                except OSError:
                    closed_at[i] = time.time() - start
            time.sleep(0.001)
        peak = sampler.stop()
        cpu = cpu_seconds(p.pid) - cpu0
        for s in socks:
            s.close()
        return {"growth_mib": (peak - base) / 1024, "peak_mib": peak / 1024, "cpu_s": cpu,
                "sent_mib": sum(sent) / 2**20,
                "closed_after_s": [round(closed_at.get(i, float("nan")), 1) for i in range(len(socks))],
                "pieces": pieces}
    finally:
        stop(p)


def trickle(kind, torrent, src, info_hash, ip, chunk, message):
    """8 connections each sending 1 MiB (`message`: 'keepalive' = 1 MiB of 4-byte keep-alives, 'unknown' = one
    1 MiB message of id 99, 'extension' = sixteen 64 KiB extension messages of an extended id the seed never
    assigned, 'interested' = 1 MiB of `interested` messages, which no budget limits) in writes of `chunk`
    bytes; returns (seed CPU s, MiB delivered, connections closed, wall seconds)."""
    p, port = start_seed(kind, torrent, src, ip)
    try:
        socks = [handshake(ip, port, info_hash, f"127.11.{chunk % 250}.{i + 1}") for i in range(8)]
        for s in socks:
            read_messages(s, 0.3)
        if message == "keepalive":
            payload = bytes(1 << 20)
        elif message == "extension":
            payload = b"".join(struct.pack(">IBB", 65532, 20, 77) + os.urandom(65530) for _ in range(16))
        elif message == "interested":
            payload = struct.pack(">IB", 1, 2) * ((1 << 20) // 5)
        else:
            payload = struct.pack(">IB", (1 << 20) + 1, 99) + os.urandom(1 << 20)
        cpu0 = cpu_seconds(p.pid)
        start = time.time()
        delivered = [0] * 8
        closed = set()
        offset = 0
        while offset < len(payload) and len(closed) < 8 and time.time() - start < 60:
            part = payload[offset:offset + chunk]
            for i, s in enumerate(socks):
                if i in closed:
                    continue
                try:
                    s.sendall(part)
                    delivered[i] += len(part)
                except OSError:
                    closed.add(i)
            offset += chunk
        time.sleep(0.5)
        cpu = cpu_seconds(p.pid) - cpu0
        for s in socks:
            s.close()
        return cpu, sum(delivered) / 2**20, len(closed), time.time() - start
    finally:
        stop(p)


def exhaustion(kind, torrent, src, info_hash, ip, count):
    """Attack 3 against a fresh seed of `kind` (libtorrent with its default limits): `count` idle connections
    from 127.12.0.1, then an honest `nbt download` from 127.12.0.2. Returns (complete, seconds, idle connections
    still open, seed CPU s, seed peak RssAnon MiB)."""
    p, port = start_seed(kind, torrent, src, ip, lt_defaults=True)
    try:
        cpu0 = cpu_seconds(p.pid)
        sampler = Sampler(p.pid)
        socks = []
        for _ in range(count):
            try:
                s = handshake(ip, port, info_hash, "127.12.0.1")
                s.sendall(struct.pack(">IB", 1, 2))
                socks.append(s)
            except OSError:
                pass
        time.sleep(1)
        out = os.path.join(WORK, "honest")
        shutil.rmtree(out, ignore_errors=True)
        start = time.time()
        r = subprocess.run([NBT, "download", torrent, "-o", out, "--bind", "127.12.0.2", "--peer", f"{ip}:{port}"],
                           capture_output=True, timeout=120)
        seconds = time.time() - start
        ok = r.returncode == 0 and open(os.path.join(out, "data.bin"), "rb").read() == open(
            os.path.join(src, "data.bin"), "rb").read()
        open_socks = sum(1 for s in socks if still_open(s))
        peak = sampler.stop()
        cpu = cpu_seconds(p.pid) - cpu0
        for s in socks:
            s.close()
        return ok, seconds, open_socks, cpu, peak / 1024
    finally:
        stop(p)


def still_open(s):
    s.setblocking(False)
    try:
        return s.recv(65536) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def flood_messages(kind, torrent, src, info_hash, ip, attack, seconds):
    """Attack 5 (`have`) or 6 (`garbage`) against a fresh seed: memory growth, CPU, bytes sent, when each of
    the 2 connections was closed. The attackers read what the seed sends (its output is not the point)."""
    p, port = start_seed(kind, torrent, src, ip)
    try:
        base = status_kib(p.pid, "RssAnon")
        cpu0 = cpu_seconds(p.pid)
        sampler = Sampler(p.pid)
        socks = []
        for i in range(2):
            s = handshake(ip, port, info_hash, f"127.15.{1 if attack == 'have' else 2}.{i + 1}")
            if attack == "have":
                s.sendall(struct.pack(">IB", 9, 5) + bytes([0x80]) + bytes(7))  # bitfield: piece 0 of 64
            socks.append(s)
        for s in socks:
            read_messages(s, 0.5)
            s.setblocking(False)
        if attack == "have":
            batch = struct.pack(">IBI", 5, 4, 0) * 2000 + struct.pack(">IB", 9, 5) + bytes([0x80]) + bytes(7)
        start = time.time()
        sent = [0, 0]
        closed_at = {}
        while time.time() - start < seconds and len(closed_at) < len(socks):
            for i, s in enumerate(socks):
                if i in closed_at:
                    continue
                try:
                    while s.recv(65536):
                        pass
                    closed_at[i] = time.time() - start  # recv returned b"": closed by the seed
                    continue
                except BlockingIOError:
                    pass
                except OSError:
                    closed_at[i] = time.time() - start
                    continue
                try:
                    sent[i] += s.send(batch if attack == "have" else os.urandom(16384))
                except BlockingIOError:
                    pass
                except OSError:
                    closed_at[i] = time.time() - start
            time.sleep(0.001)
        peak = sampler.stop()
        cpu = cpu_seconds(p.pid) - cpu0
        for s in socks:
            s.close()
        return {"growth_mib": (peak - base) / 1024, "cpu_s": cpu, "sent_mib": sum(sent) / 2**20,
                "closed_after_s": [round(closed_at.get(i, float("nan")), 1) for i in range(len(socks))]}
    finally:
        stop(p)


class LyingTracker:
    """A fake HTTP tracker on loopback whose announces answer with a huge list of junk peers, all in
    127.0.0.0/8 (nothing outside loopback is ever named), the honest seed last."""

    def __init__(self, ip, honest, form):
        import http.server
        import random
        rng = random.Random(12)
        if form == "compact":
            junk = b"".join(bytes([127, 16, rng.randrange(256), rng.randrange(1, 255)])
                            + struct.pack(">H", rng.choice([0, 1, rng.randrange(1024, 65536)]))
                            for _ in range(40000))
            peers = b"5:peers" + str(len(junk) + 6).encode() + b":" + junk + socket.inet_aton(honest[0]) \
                + struct.pack(">H", honest[1])
        else:
            entries = []
            for n in range(10000):
                bad_ip = [b"999.1.1.1", b"", b"127.16.0", b"127.16.0.1.5", b"::zz", b"0x7f.1", b"\xff\xfe",
                          b"127.16.0.%d" % (n % 250 + 1)][n % 8]
                port = [b"i0e", b"i-1e", b"i70000e", b"i6881e"][n % 4]
                entries.append(b"d2:ip" + str(len(bad_ip)).encode() + b":" + bad_ip + b"4:port" + port + b"e")
            entries.append(b"d2:ip" + str(len(honest[0])).encode() + b":" + honest[0].encode() + b"4:porti"
                           + str(honest[1]).encode() + b"ee")
            peers = b"5:peersl" + b"".join(entries) + b"e"
        body = b"d8:intervali5e" + peers + b"e"
        self.announces = 0
        tracker = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                tracker.announces += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((ip, 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def lying_tracker(src, ip, form):
    """Attack 7: an `nbt seed` on `ip` and an `nbt download` whose only tracker lies (see LyingTracker)."""
    p, port = start_seed(NBT, os.path.join(WORK, "data-v1.torrent"), src, ip)
    tracker = LyingTracker("127.14.0.1", (ip, port), form)
    try:
        torrent = os.path.join(WORK, f"lying-{form}.torrent")
        subprocess.run([NBT, "create", os.path.join(src, "data.bin"), "--v1", "--piece-size", "1M", "--no-date",
                        "--tracker", f"http://127.14.0.1:{tracker.port}/announce", "-o", torrent],
                       check=True, capture_output=True, timeout=300)
        out = os.path.join(WORK, f"lying-{form}")
        shutil.rmtree(out, ignore_errors=True)
        import resource
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.time()
        d = spawn([NBT, "download", torrent, "-o", out, "--bind", "127.14.0.2", "--allow-local-trackers"],
                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sampler = Sampler(d.pid)
        try:
            code = d.wait(60)
        except subprocess.TimeoutExpired:
            code = None
        seconds = time.time() - start
        peak = sampler.peak
        sampler.stop()
        stop(d)
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
        ok = code == 0 and open(os.path.join(out, "data.bin"), "rb").read() == open(
            os.path.join(src, "data.bin"), "rb").read()
        return ok, seconds, peak / 1024, cpu, tracker.announces, code
    finally:
        tracker.close()
        stop(p)


def strip_layers(torrent, out):
    """Writes `torrent` without its top-level `piece layers` (the info dictionary, and so the info-hash, is
    unchanged): the key and its value are cut out of the bencoded bytes."""
    data = open(torrent, "rb").read()
    key = b"12:piece layers"
    i = data.index(key)
    j = i + len(key)
    assert data[j:j + 1] == b"d"
    depth, k = 0, j
    while True:  # skip the dictionary value: keys and values are byte strings
        c = data[k:k + 1]
        if c == b"d":
            depth += 1
            k += 1
        elif c == b"e":
            depth -= 1
            k += 1
            if depth == 0:
                break
        else:
            colon = data.index(b":", k)
            k = colon + 1 + int(data[k:colon])
    open(out, "wb").write(data[:i] + data[k:])


def stripped(seed, torrents, src, ip):
    """Attack 4 with a seed of `seed` (NBT or "libtorrent") holding the full torrent."""
    results = {}
    for kind in ("hybrid", "v2"):
        bare = torrents[kind].replace(".torrent", "-stripped.torrent")
        strip_layers(torrents[kind], bare)
        p, port = start_seed(seed, torrents[kind], src, ip)
        try:
            out = os.path.join(WORK, f"stripped-{kind}")
            shutil.rmtree(out, ignore_errors=True)
            start = time.time()
            r = subprocess.run([NBT, "download", bare, "-o", out, "--bind", "127.13.0.2", "--peer", f"{ip}:{port}"],
                               capture_output=True, text=True, timeout=120)
            seconds = time.time() - start
            done = os.path.exists(os.path.join(out, "data.bin")) and open(
                os.path.join(out, "data.bin"), "rb").read() == open(os.path.join(src, "data.bin"), "rb").read()
            message = (r.stderr.strip().splitlines() or [""])[-1][:160]
            results[kind] = (r.returncode, done, seconds, message)
        finally:
            stop(p)
    return results


def main():
    # NBT_BENCH_ONLY=1,5,6,7 runs only those attacks (all by default).
    only = {int(x) for x in os.environ.get("NBT_BENCH_ONLY", "1,2,3,4,5,6,7").split(",") if x.strip()}
    load = open("/proc/loadavg").read().split()[:3]
    print("making the data and torrents...", file=sys.stderr, flush=True)
    src, torrents, info_hash = make_data()
    lines = [f"Attacks against a seed on loopback: 64 MiB, 1 MiB pieces, {os.cpu_count()} cores"
             + ("" if only == set(range(1, 8)) else f"; only attacks {sorted(only)} (NBT_BENCH_ONLY)"),
             f"load average before the run: {' '.join(load)}; nbt: {BUILD_NOTE}", ""]

    lines.append("1. request+cancel flood: 2 never-reading connections, 20 s at most")
    lines.append(f"{'seed':<12} {'memory growth MiB':>18} {'peak RssAnon MiB':>17} {'CPU s':>7} {'flood sent MiB':>15}"
                 "   closed after (s)")
    for label, kind, ip in (("libtorrent", "libtorrent", "127.0.0.2"), ("nbt", NBT, "127.0.0.3"))[
            0 if 1 in only else 2:]:
        print(f"flood: {label}", file=sys.stderr, flush=True)
        r = flood(label if kind == "libtorrent" else kind, torrents["v1"], src, info_hash, ip)
        lines.append(f"{label:<12} {r['growth_mib']:>18.1f} {r['peak_mib']:>17.1f} {r['cpu_s']:>7.2f} "
                     f"{r['sent_mib']:>15.1f}   {r['closed_after_s']} (piece {r['pieces']})")
    lines.append("")

    lines.append("2. trickled messages: 8 connections x 1 MiB each")
    lines.append(f"{'seed':<12} {'message':<9} {'writes':>7} {'CPU s':>7} {'MiB in':>7} {'closed':>7} {'wall s':>7}")
    for label, kind, ip in (("libtorrent", "libtorrent", "127.0.0.2"), ("nbt", NBT, "127.0.0.3")):
        for message, chunk in (("keepalive", 16384), ("keepalive", 64), ("unknown", 16384), ("unknown", 64),
                               ("extension", 16384), ("extension", 64), ("interested", 16384),
                               ("interested", 64))[0 if 2 in only else 8:]:
            print(f"trickle: {label} {message} {chunk}", file=sys.stderr, flush=True)
            cpu, mib, closed, wall = trickle(label if kind == "libtorrent" else kind, torrents["v1"], src,
                                             info_hash, ip, chunk, message)
            lines.append(f"{label:<12} {message:<9} {chunk:>7} {cpu:>7.2f} {mib:>7.1f} {closed:>7} {wall:>7.1f}")
    lines.append("")

    lines.append("3. slot exhaustion: idle connections from 127.12.0.1, then an honest `nbt download` from 127.12.0.2"
                 " (libtorrent with its default connection limits)")
    for label, kind, ip in (("libtorrent", "libtorrent", "127.0.0.2"), ("nbt", NBT, "127.0.0.3")):
        for count in (0, 250)[0 if 3 in only else 2:]:
            print(f"exhaustion: {label} {count}", file=sys.stderr, flush=True)
            ok, seconds, still, cpu, peak = exhaustion(kind, torrents["v1"], src, info_hash, ip, count)
            lines.append(f"{label:<11} {count:>4} idle connections: download {'complete' if ok else 'FAILED'} in "
                         f"{seconds:.1f} s; {still} of the idle connections still open at the end; seed CPU "
                         f"{cpu:.2f} s, peak RssAnon {peak:.1f} MiB")
    lines.append("")

    lines.append("4. piece layers stripped (a seed of the full torrent, nbt download of the stripped one)")
    for label, kind, ip in (("libtorrent", "libtorrent", "127.0.0.2"), ("nbt", NBT, "127.0.0.3"))[
            0 if 4 in only else 2:]:
        print(f"stripped: {label}", file=sys.stderr, flush=True)
        for what, (code, done, seconds, message) in stripped(kind, torrents, src, ip).items():
            lines.append(f"{label + ' seed':<16} {what:<7} exit {code}, data "
                         f"{'complete' if done else 'not downloaded'}, {seconds:.1f} s; last line: {message}")

    lines.append("")
    lines.append("5. have/bitfield flood: 2 connections, redundant `have`s and repeated bitfields, 20 s at most")
    lines.append(f"{'seed':<12} {'memory growth MiB':>18} {'CPU s':>7} {'flood sent MiB':>15}   closed after (s)")
    for label, kind, ip in (("libtorrent", "libtorrent", "127.0.0.2"), ("nbt", NBT, "127.0.0.3"))[
            0 if 5 in only else 2:]:
        print(f"have flood: {label}", file=sys.stderr, flush=True)
        r = flood_messages(label if kind == "libtorrent" else kind, torrents["v1"], src, info_hash, ip, "have", 20)
        lines.append(f"{label:<12} {r['growth_mib']:>18.1f} {r['cpu_s']:>7.2f} {r['sent_mib']:>15.1f}   "
                     f"{r['closed_after_s']}")
    lines.append("")

    lines.append("6. garbage after the handshake: 2 connections sending random bytes, 10 s at most")
    lines.append(f"{'seed':<12} {'memory growth MiB':>18} {'CPU s':>7} {'garbage sent MiB':>17}   closed after (s)")
    for label, kind, ip in (("libtorrent", "libtorrent", "127.0.0.2"), ("nbt", NBT, "127.0.0.3"))[
            0 if 6 in only else 2:]:
        print(f"garbage: {label}", file=sys.stderr, flush=True)
        r = flood_messages(label if kind == "libtorrent" else kind, torrents["v1"], src, info_hash, ip, "garbage",
                           10)
        lines.append(f"{label:<12} {r['growth_mib']:>18.1f} {r['cpu_s']:>7.2f} {r['sent_mib']:>17.1f}   "
                     f"{r['closed_after_s']}")
    lines.append("")

    lines.append("7. lying tracker (nbt download; 127.14.0.1 answers every announce with junk loopback peers)")
    for form, what in (("compact", "40,000 compact peers"), ("dicts", "10,000 peer dictionaries, junk ips"))[
            0 if 7 in only else 2:]:
        print(f"lying tracker: {form}", file=sys.stderr, flush=True)
        ok, seconds, peak, cpu, announces, code = lying_tracker(src, "127.0.0.3", form)
        lines.append(f"{what:<36}: download {'complete' if ok else 'FAILED'} (exit {code}) in {seconds:.1f} s, "
                     f"peak RssAnon {peak:.1f} MiB, CPU {cpu:.2f} s, {announces} announce(s) answered")

    text = "\n".join(lines)
    print(text)
    # The newest run goes first; earlier runs (and notes written under them) stay below it.
    header = "# Attack benchmark results\n\n"
    earlier = open(RESULTS).read() if os.path.exists(RESULTS) else ""
    earlier = earlier[len(header):] if earlier.startswith(header) else earlier
    with open(RESULTS, "w") as f:
        f.write(header)
        f.write(f"## Run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `scripts/bench attacks` "
                "(Benchmarks/attacks/run)\n\n```\n" + text + "\n```\n")
        if earlier.strip():
            f.write("\n" + earlier)


if __name__ == "__main__":
    try:
        main()
    finally:
        kill_children()
