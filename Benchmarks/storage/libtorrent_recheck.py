#!/usr/bin/env python3
"""Times libtorrent's hash check of TORRENT over SAVE_PATH; prints seconds, CPU and verified pieces.

Usage: libtorrent_recheck.py TORRENT SAVE_PATH [recheck|add] [COLD_CMD]
  recheck (default): add the torrent, let its initial check finish untimed, then time force_recheck (the
           session keeps its memory-mapped files, so pages libtorrent already mapped need no page fault).
  add:     time the check libtorrent runs when a torrent without resume data is added to a fresh session
           (like `nbt check`, which starts from nothing too).
When COLD_CMD is given (to evict the data from the page cache) it runs before the timed check; in recheck
mode libtorrent would keep its mapped pages cached, so a cold run always uses add mode.
libtorrent gets every core for hashing (hashing_threads = cores, aio_threads = cores) and a generous
checking memory budget, with all networking off.
"""
import os
import resource
import subprocess
import sys
import time

import libtorrent as lt

torrent, save_path = sys.argv[1], sys.argv[2]
mode = sys.argv[3] if len(sys.argv) > 3 else "recheck"
cold = sys.argv[4] if len(sys.argv) > 4 else None
if cold:
    mode = "add"
    subprocess.run(cold, shell=True, check=False, stdout=subprocess.DEVNULL)
cores = os.cpu_count() or 1
session = lt.session({
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "hashing_threads": cores, "aio_threads": cores, "checking_mem_usage": 2048,
    "alert_mask": lt.alert.category_t.status_notification | lt.alert.category_t.storage_notification,
})
params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent)
params.save_path = save_path
params.flags &= ~lt.torrent_flags.auto_managed
params.flags |= lt.torrent_flags.paused


def wait_checked(deadline):
    while time.time() < deadline:
        for alert in session.pop_alerts():
            if isinstance(alert, lt.torrent_checked_alert):
                return True
        session.wait_for_alert(200)
    return False


if mode == "recheck":
    handle = session.add_torrent(params)
    # The add itself triggers an initial check; let it finish untimed.
    handle.resume()
    wait_checked(time.time() + 600)
    handle.pause()
    start = time.time()
    before = resource.getrusage(resource.RUSAGE_SELF)
    handle.force_recheck()
    handle.resume()
else:
    start = time.time()
    before = resource.getrusage(resource.RUSAGE_SELF)
    handle = session.add_torrent(params)
    handle.resume()
ok = wait_checked(start + 900)
elapsed = time.time() - start
after = resource.getrusage(resource.RUSAGE_SELF)
user = after.ru_utime - before.ru_utime
system = after.ru_stime - before.ru_stime
status = handle.status()
print(
    f"seconds={elapsed:.3f} cpu={user + system:.3f} user={user:.3f} sys={system:.3f} "
    f"verified={status.num_pieces}/{params.ti.num_pieces()} ok={ok and status.num_pieces == params.ti.num_pieces()}"
)
