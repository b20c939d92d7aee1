"""Web seed benchmark driver (see run): nginx on its own loopback address serves SIZE MiB in 4 files; each
round runs curl (every file, one process, keep-alive, to disk) and `nbt download` (web seed only) against
it. Children are killed by PID at the end. Usage: bench.py NBT WORK SIZE_MIB RESULTS NOTE"""
import os
import re
import resource
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import benchlib  # noqa: E402

nbt, work, size_mib, results, note = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
rounds = int(os.environ.get("NBT_BENCH_ROUNDS", "2"))
ip = "127.0.%d.%d" % (os.getpid() % 200 + 20, 7)
nbt_ip = ip.rsplit(".", 1)[0] + ".8"


def free_port():
    s = socket.socket()
    s.bind((ip, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def timed(args, **kw):
    """Runs args to the end; (wall s, stdout)."""
    start = time.time()
    p = benchlib.spawn(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    out, err = p.communicate(timeout=900)
    status = p.returncode
    wall = time.time() - start
    if status != 0:
        raise SystemExit(f"{args[0]} failed ({status}): {err.decode(errors='replace')[-2000:]}")
    return wall, out.decode(errors="replace")


def cpu_of(fn):
    """fn()'s result and the user+sys seconds of the children it waited for."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = fn()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return result, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


www = os.path.join(work, "www")
payload = os.path.join(www, "payload")
os.makedirs(payload)
files = []
per = size_mib * 1048576 // 4
for i in range(4):
    path = os.path.join(payload, f"file {i}.bin")
    with open(path, "wb") as f:
        left = per + i * 4097  # sizes that do not end on a piece boundary
        while left > 0:
            chunk = min(left, 1 << 24)
            f.write(os.urandom(chunk))
            left -= chunk
    files.append(path)
total = sum(os.path.getsize(f) for f in files)

# nginx: not a daemon, its own config, logs and temp paths, on its own address.
ndir = os.path.join(work, "nginx")
os.makedirs(os.path.join(ndir, "tmp"))
port = free_port()
user = "user root root;" if os.getuid() == 0 else ""
with open(os.path.join(ndir, "nginx.conf"), "w") as f:
    f.write(f"""{user}
worker_processes 1;
pid {ndir}/nginx.pid;
error_log {ndir}/error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {ndir}/tmp/body; proxy_temp_path {ndir}/tmp/proxy; fastcgi_temp_path {ndir}/tmp/fastcgi;
  uwsgi_temp_path {ndir}/tmp/uwsgi; scgi_temp_path {ndir}/tmp/scgi;
  sendfile on; tcp_nopush on; keepalive_requests 100000;
  server {{ listen {ip}:{port}; root {www}; location / {{ }} }}
}}
""")
nginx = benchlib.spawn(["/usr/sbin/nginx", "-p", ndir, "-e", os.path.join(ndir, "error.log"), "-c",
                        os.path.join(ndir, "nginx.conf"), "-g", "daemon off;"])
for _ in range(100):
    try:
        socket.create_connection((ip, port), 0.2).close()
        break
    except OSError:
        time.sleep(0.1)
base = f"http://{ip}:{port}/"
torrent = os.path.join(work, "payload.torrent")
subprocess.run([nbt, "create", payload, "--v1", "--piece-size", "1M", "--no-date", "--web-seed", base, "-o", torrent],
               check=True, stdout=subprocess.DEVNULL, timeout=600)
load = open("/proc/loadavg").read().split()[:3]

rows = []
try:
    for r in range(rounds):
        # curl: every file in one process (keep-alive), written to disk.
        cdir = os.path.join(work, f"curl{r}")
        os.makedirs(cdir)
        args = ["curl", "-s", "--fail"]
        for i in range(4):
            args += ["-o", os.path.join(cdir, f"{i}.bin"), base + "payload/" + f"file%20{i}.bin"]
        (wall, _), cpu = cpu_of(lambda: timed(args))
        rows.append(("curl (4 files, 1 connection)", wall, None, total / wall / 1e6, cpu, "yes"))
        subprocess.run(["rm", "-rf", cdir])
        # nbt: the web seed alone.
        ddir = os.path.join(work, f"nbt{r}")
        (wall, out), cpu = cpu_of(lambda: timed([nbt, "download", torrent, "-o", ddir, "--bind", nbt_ip]))
        m = re.search(r"complete, .* in ([0-9.]+) s", out)
        xfer = float(m.group(1)) if m else None
        ok = all(subprocess.run(["cmp", "-s", f, os.path.join(ddir, "payload", os.path.basename(f))]).returncode == 0
                 for f in files)
        rows.append(("nbt download (web seed)", wall, xfer, total / (xfer or wall) / 1e6, cpu, "yes" if ok else "NO"))
        subprocess.run(["rm", "-rf", ddir])
finally:
    # SIGTERM to nginx's master stops its worker too (SIGKILL would leave the worker running).
    nginx.terminate()
    try:
        nginx.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    benchlib.kill_children()

curl_rates = [r[3] for r in rows if r[0].startswith("curl")]
nbt_rates = [r[3] for r in rows if r[0].startswith("nbt")]
lines = [f"Web seed benchmark: {total} bytes in 4 files, piece 1048576, nginx 1.22 on loopback, {os.cpu_count()} cores",
         f"load average before the run: {' '.join(load)}; nbt: {note}", "",
         f"{'transfer':32}{'wall s':>8}{'xfer s':>8}{'MB/s':>8}{'cpu s':>8}   ok"]
for name, wall, xfer, rate, cpu, ok in rows:
    lines.append(f"{name:32}{wall:8.2f}{(xfer if xfer else float('nan')):8.2f}{rate:8.0f}{cpu:8.2f}   {ok}")
lines += ["", f"nbt / curl (mean MB/s): {sum(nbt_rates) / len(nbt_rates):.0f} / {sum(curl_rates) / len(curl_rates):.0f}"
          f" = {100 * (sum(nbt_rates) / len(nbt_rates)) / (sum(curl_rates) / len(curl_rates)):.0f} %",
          "MB/s = payload / xfer s for nbt (its own clock from start to the last piece verified), payload / wall s",
          "for curl (process wall time). cpu = user+sys of the process (nginx not counted). Both write to the same",
          "disk; nbt also hashes every piece (SHA-1)."]
text = "\n".join(lines)
print(text)
stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
with open(results, "w") as f:
    f.write(f"# Web seed benchmark results\n\nRun on {stamp} by `Benchmarks/webseed/run {size_mib}`, {rounds} rounds.\n\n```\n{text}\n```\n")
