#!/usr/bin/env python3
"""Times libtorrent's force_recheck of TORRENT over SAVE_PATH; prints seconds and verified pieces.

Usage: libtorrent_recheck.py TORRENT SAVE_PATH [COLD_CMD]
libtorrent gets every core for hashing (hashing_threads = cores, aio_threads = cores) and a generous
checking memory budget, with all networking off. When COLD_CMD is given it runs right before the timed
recheck (to drop the page cache).
"""
import os
import resource
import subprocess
import sys
import time

import libtorrent as lt

torrent, save_path = sys.argv[1], sys.argv[2]
cold = sys.argv[3] if len(sys.argv) > 3 else None
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
handle = session.add_torrent(params)


def wait_checked(deadline):
    while time.time() < deadline:
        for alert in session.pop_alerts():
            if isinstance(alert, lt.torrent_checked_alert):
                return True
        session.wait_for_alert(200)
    return False


# The add itself triggers an initial check; let it finish untimed.
handle.resume()
wait_checked(time.time() + 600)
handle.pause()
if cold:
    subprocess.run(cold, shell=True, check=False)
start = time.time()
before = resource.getrusage(resource.RUSAGE_SELF)
handle.force_recheck()
handle.resume()
ok = wait_checked(start + 900)
elapsed = time.time() - start
after = resource.getrusage(resource.RUSAGE_SELF)
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
status = handle.status()
print(f"seconds={elapsed:.3f} cpu={cpu:.3f} verified={status.num_pieces}/{params.ti.num_pieces()} ok={ok}")
