"""10,000 torrents in one daemon (issue 19): `nbt daemon` beside `transmission-daemon`, same torrents, same run.

Usage: bench.py NBT WORK RESULTS NOTE   (env NBT_BENCH_TORRENTS: how many torrents, 10000 by default)

For each daemon: a config dir holding N small complete torrents (one 1 KiB file each, data present), loaded
once (every torrent checked), stopped with SIGTERM (resume data written), then started again and measured:
- start-up: from exec to every torrent listed by the RPC and none waiting for or in a check (no re-hashing);
- memory: RSS of the daemon then, minus the RSS of the same daemon with no torrent, per torrent;
- `torrent-get` of every torrent's list fields (what `transmission-remote -l` asks for): median of 5;
- adding one more torrent (`torrent-add` with `metainfo`): the call's time.
Both bind RPC and peers to 127.x only; no DHT, LPD, UPnP or NAT-PMP; every child is killed by PID.
"""
import base64
import hashlib
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "common"))
import benchlib  # noqa: E402

NBT, WORK, RESULTS, NOTE = sys.argv[1:5]
N = int(os.environ.get("NBT_BENCH_TORRENTS", "10000"))
NET = "127.%d.%d" % (random.randint(20, 220), random.randint(1, 250))
LIST_FIELDS = ["id", "name", "status", "error", "errorString", "eta", "isFinished", "leftUntilDone",
               "peersGettingFromUs", "peersSendingToUs", "rateDownload", "rateUpload", "sizeWhenDone",
               "uploadRatio", "percentDone", "metadataPercentComplete"]


def bencode(value):
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, str):
        return bencode(value.encode())
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    return b"d" + b"".join(bencode(k) + bencode(value[k]) for k in sorted(value)) + b"e"


def make_torrents(folder, count):
    """`count` single-file torrents of 1 KiB each; returns [(hex hash, name, .torrent bytes)]."""
    os.makedirs(folder + "/data", exist_ok=True)
    torrents = []
    for i in range(count):
        name = "t%05d.bin" % i
        data = os.urandom(1024)
        with open(folder + "/data/" + name, "wb") as f:
            f.write(data)
        info = {"length": len(data), "name": name, "piece length": 16384, "pieces": hashlib.sha1(data).digest()}
        meta = bencode({"info": info})
        torrents.append((hashlib.sha1(bencode(info)).hexdigest(), name, meta))
    return torrents


class RPC:
    """A Transmission RPC client with the session-id handshake."""

    def __init__(self, host, port):
        self.host, self.port, self.session = host, port, ""

    def call(self, method, arguments=None, timeout=120):
        body = json.dumps({"method": method, "arguments": arguments or {}})
        for _ in range(3):
            conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            conn.request("POST", "/transmission/rpc", body,
                         {"X-Transmission-Session-Id": self.session, "Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
            conn.close()
            if response.status == 409:
                self.session = response.getheader("X-Transmission-Session-Id")
                continue
            return json.loads(data)
        raise RuntimeError("no session id")

    def ready(self):
        try:
            self.call("session-get", timeout=2)
            return True
        except (OSError, http.client.HTTPException, ValueError):
            return False


def rss_kib(pid):
    return benchlib.status_kib(pid, "VmRSS")


def wait_all_idle(rpc, count, limit):
    """Waits until `count` torrents are listed, complete, and none is waiting for or in a check; returns the
    seconds."""
    start = time.time()
    while time.time() < start + limit:
        try:
            answer = rpc.call("torrent-get", {"fields": ["id", "status", "percentDone"]})
            torrents = answer["arguments"]["torrents"]
            if len(torrents) >= count and all(t["status"] not in (1, 2) and t["percentDone"] >= 1 for t in torrents):
                return time.time() - start
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            pass
        time.sleep(0.2)
    raise RuntimeError("not all %d torrents idle after %d s" % (count, limit))


class Daemon:
    """One daemon under test: how to start it, its RPC, its process."""

    def __init__(self, name, folder, rpc_port):
        self.name, self.folder, self.rpc_port, self.process = name, folder, rpc_port, None
        self.rpc = RPC(NET + ".1", rpc_port)

    def start(self):
        self.process = benchlib.spawn(["timeout", "-k", "5", "1800"] + self.command(), stdout=subprocess.DEVNULL,
                                      stderr=open(self.folder + "/stderr.log", "ab"))
        started = time.time()
        while not self.rpc.ready():
            if self.process.poll() is not None:
                raise RuntimeError(self.name + " exited: " + open(self.folder + "/stderr.log").read()[-2000:])
            time.sleep(0.05)
        return started

    def pid(self):
        """The daemon's own PID (under `timeout`)."""
        children = open("/proc/%d/task/%d/children" % (self.process.pid, self.process.pid)).read().split()
        return int(children[0]) if children else self.process.pid

    def stop(self):
        pid = self.pid()
        os.kill(pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.kill(pid, signal.SIGKILL)
            self.process.wait()


class Nbt(Daemon):
    def first_load(self):
        """nbt checks every torrent of its state at start-up."""
    def command(self):
        return [NBT, "daemon", "--config-dir", self.folder + "/config", "--download-dir", self.folder + "/data",
                "--rpc-bind", NET + ".1", "--rpc-port", str(self.rpc_port), "--bind", NET + ".2", "--port", "0",
                "--no-dht"]

    def load(self, torrents):
        """The config dir written directly: the state file and the .torrent files (no resume data yet)."""
        os.makedirs(self.folder + "/config/torrents", exist_ok=True)
        entries = []
        for i, (hexhash, name, meta) in enumerate(torrents):
            with open("%s/config/torrents/%s.torrent" % (self.folder, hexhash), "wb") as f:
                f.write(meta)
            entries.append({"id": i + 1, "hashString": hexhash, "downloadDir": self.folder + "/data", "paused": False,
                            "addedDate": int(time.time()), "wanted": [True], "priorities": [0],
                            "doneDate": 0, "downloadLimit": 100, "downloadLimited": False, "uploadLimit": 100,
                            "uploadLimited": False})
        state = {"formatVersion": 1, "nextID": len(torrents) + 1, "torrents": entries,
                 "downloadDir": self.folder + "/data", "startAddedTorrents": True}
        with open(self.folder + "/config/daemon-state.json", "w") as f:
            json.dump(state, f)


class Transmission(Daemon):
    def first_load(self):
        """Every torrent checked against the download dir: `torrent-verify` without ids (all of them)."""
        self.rpc.call("torrent-verify")
    def command(self):
        return ["transmission-daemon", "--foreground", "--config-dir", self.folder + "/config"]

    def load(self, torrents):
        os.makedirs(self.folder + "/config", exist_ok=True)
        settings = {"rpc-bind-address": NET + ".1", "rpc-port": self.rpc_port, "rpc-whitelist-enabled": False,
                    "rpc-host-whitelist-enabled": False, "rpc-authentication-required": False,
                    "bind-address-ipv4": NET + ".3", "bind-address-ipv6": "::1", "peer-port": random.randint(20000, 60000),
                    "dht-enabled": False, "lpd-enabled": False, "utp-enabled": False, "pex-enabled": False,
                    "port-forwarding-enabled": False, "download-dir": self.folder + "/data",
                    "incomplete-dir-enabled": False, "watch-dir-enabled": False, "download-queue-enabled": False,
                    "seed-queue-enabled": False, "queue-stalled-enabled": False, "message-level": 1,
                    "start-added-torrents": True}
        with open(self.folder + "/config/settings.json", "w") as f:
            json.dump(settings, f)
        # Transmission loads every .torrent of its config dir's `torrents/` at start-up, as nbt reads its state
        # file; without resume data it does not look at the download dir until asked (`first_load`).
        os.makedirs(self.folder + "/config/torrents", exist_ok=True)
        for hexhash, _, meta in torrents:
            with open("%s/config/torrents/%s.torrent" % (self.folder, hexhash), "wb") as f:
                f.write(meta)


def measure(daemon, torrents, extra):
    """The restart figures of a loaded daemon."""
    started = daemon.start()
    wait_all_idle(daemon.rpc, len(torrents), 1200)
    startup = time.time() - started
    time.sleep(2)
    rss = rss_kib(daemon.pid())
    timings = []
    for _ in range(5):
        t = time.time()
        answer = daemon.rpc.call("torrent-get", {"fields": LIST_FIELDS})
        timings.append(time.time() - t)
        assert len(answer["arguments"]["torrents"]) >= len(torrents)
    t = time.time()
    added = daemon.rpc.call("torrent-add", {"metainfo": base64.b64encode(extra[2]).decode()})
    add_time = time.time() - t
    assert "torrent-added" in added["arguments"], added
    daemon.stop()
    return startup, rss, statistics.median(timings), add_time


def empty_rss(daemon_class, name, folder, port):
    os.makedirs(folder, exist_ok=True)
    daemon = daemon_class(name, folder, port)
    daemon.load([])
    daemon.start()
    time.sleep(2)
    rss = rss_kib(daemon.pid())
    daemon.stop()
    return rss


def main():
    lines = []
    load = open("/proc/loadavg").read().split()[:3]
    lines.append("%d torrents (one 1 KiB file each, data present) in one daemon; load average before: %s" %
                 (N, " ".join(load)))
    lines.append("nbt: %s" % NOTE)
    t = time.time()
    torrents = make_torrents(WORK + "/gen", N + 1)
    extra = torrents.pop()
    lines.append("generated in %.1f s" % (time.time() - t))
    rows = []
    candidates = [("nbt daemon", Nbt, WORK + "/nbt")]
    have_transmission = subprocess.call(["sh", "-c", "command -v transmission-daemon >/dev/null"]) == 0
    if have_transmission:
        candidates.append(("transmission-daemon", Transmission, WORK + "/tr"))
    else:
        lines.append("transmission-daemon: not installed, no comparison")
    for name, cls, folder in candidates:
        port = random.randint(30000, 60000)
        base = empty_rss(cls, name, folder + "-empty", port)
        os.makedirs(folder, exist_ok=True)
        os.symlink(WORK + "/gen/data", folder + "/data")
        daemon = cls(name, folder, port + 1)
        daemon.load(torrents)
        t = time.time()
        daemon.start()
        daemon.first_load()
        wait_all_idle(daemon.rpc, N, 1800)
        first = time.time() - t
        daemon.stop()
        startup, rss, get, add = measure(daemon, torrents, extra)
        rows.append((name, first, startup, base, rss, (rss - base) / N, get, add))
        print("%s done" % name, file=sys.stderr, flush=True)
    lines.append("")
    lines.append("%-20s %12s %12s %10s %10s %12s %14s %10s" % (
        "daemon", "first load s", "restart s", "empty MiB", "RSS MiB", "KiB/torrent", "torrent-get ms", "add ms"))
    for name, first, startup, base, rss, per, get, add in rows:
        lines.append("%-20s %12.1f %12.2f %10.1f %10.1f %12.1f %14.1f %10.1f" % (
            name, first, startup, base / 1024, rss / 1024, per, get * 1000, add * 1000))
    text = "\n".join(lines)
    print(text)
    with open(RESULTS, "w") as f:
        f.write("# Daemon scale benchmark results\n\nRun on %s by `scripts/bench daemon` "
                "(Benchmarks/daemon/run).\n\n```\n%s\n```\n" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                                                 text))


try:
    main()
finally:
    benchlib.kill_children()
