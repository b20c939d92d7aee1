#!/usr/bin/env python3
"""libtorrent (python3-libtorrent 2.0.8) side of the metainfo interop tests.

  lt_helper.py dump FILE.torrent
      prints what libtorrent's torrent_info reports, as JSON.
  lt_helper.py corpus FOLDER
      prints, as JSON, libtorrent's version and, keyed by file name, whether it opens each FOLDER/*.torrent
      and, if it does, its info-hashes, name, piece length and files (path, size, pad, symlink target);
      else its error message.
  lt_helper.py magnet FILE.torrent
      prints libtorrent's make_magnet_uri for the torrent.
  lt_helper.py parse-magnet URI
      prints what libtorrent's parse_magnet_uri reads from URI, as JSON.
  lt_helper.py autopiece SIZE...
      prints the automatic piece size create_torrent picks for one file of each SIZE, one a line.
  lt_helper.py create PATH OUT.torrent --mode v1|v2|hybrid [--piece-size N] [--tracker URL[,TIER]]...
                 [--web-seed URL]... [--private] [--comment TEXT] [--creator TEXT] [--date N]
      creates a torrent with lt.create_torrent. Files are added in sorted path order (component by
      component), because add_files() would list them in directory order.
"""
import argparse
import json
import os
import sys
import warnings

import libtorrent as lt

# libtorrent 2.1 warns about deprecated calls (files()) on stderr, which the tests read with stdout.
warnings.filterwarnings("ignore", category=DeprecationWarning)


def dump(path):
    ti = lt.torrent_info(path)
    fs = ti.files()
    hashes = ti.info_hashes()
    files = []
    for i in range(fs.num_files()):
        flags = fs.file_flags(i)
        root = fs.root(i)
        root_hex = str(root)
        files.append({
            "path": fs.file_path(i),
            "size": fs.file_size(i),
            "offset": fs.file_offset(i),
            "pad": bool(flags & lt.file_storage.flag_pad_file),
            "executable": bool(flags & lt.file_storage.flag_executable),
            "root": "" if set(root_hex) <= {"0"} else root_hex,
        })
    out = {
        "name": ti.name(),
        "v1": str(hashes.v1) if hashes.has_v1() else "",
        "v2": str(hashes.v2) if hashes.has_v2() else "",
        "piece_length": ti.piece_length(),
        "num_pieces": ti.num_pieces(),
        "total_size": ti.total_size(),
        "files": files,
        "trackers": [{"url": t.url, "tier": t.tier} for t in ti.trackers()],
        "web_seeds": [w["url"] for w in ti.web_seeds()],
        "private": bool(ti.priv()),
        "comment": ti.comment(),
        "creator": ti.creator(),
        "creation_date": ti.creation_date(),
    }
    json.dump(out, sys.stdout)
    print()


def corpus(folder):
    out = {}
    for f in sorted(os.listdir(folder)):
        if not f.endswith(".torrent"):
            continue
        try:
            ti = lt.torrent_info(os.path.join(folder, f))
        except Exception as e:  # libtorrent raises RuntimeError with its message
            out[f] = {"ok": False, "error": str(e)}
            continue
        fs = ti.files()
        hashes = ti.info_hashes()
        files = []
        for i in range(fs.num_files()):
            flags = fs.file_flags(i)
            link = fs.symlink(i) if flags & lt.file_storage.flag_symlink else None
            files.append({"path": fs.file_path(i), "size": fs.file_size(i),
                          "pad": bool(flags & lt.file_storage.flag_pad_file), "symlink": link})
        out[f] = {"ok": True, "name": ti.name(), "v1": str(hashes.v1) if hashes.has_v1() else "",
                  "v2": str(hashes.v2) if hashes.has_v2() else "", "piece_length": ti.piece_length(),
                  "files": files}
    json.dump({"version": lt.__version__, "torrents": out}, sys.stdout)
    print()


def components(rel):
    return rel.split(os.sep)


def create(args):
    root = os.path.abspath(args.path)
    parent = os.path.dirname(root)
    fs = lt.file_storage()
    if os.path.isdir(root):
        name = os.path.basename(root)
        entries = []
        for dirpath, dirnames, filenames in os.walk(root):
            for f in filenames:
                full = os.path.join(dirpath, f)
                entries.append(os.path.relpath(full, root))
        entries.sort(key=lambda rel: [c.encode() for c in components(rel)])
        for rel in entries:
            fs.add_file(os.path.join(name, rel), os.path.getsize(os.path.join(root, rel)))
    else:
        fs.add_file(os.path.basename(root), os.path.getsize(root))
    flags = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only, "hybrid": 0}[args.mode]
    ct = lt.create_torrent(fs, args.piece_size, flags=flags)
    for t in args.tracker:
        url, _, tier = t.partition(",")
        ct.add_tracker(url, int(tier or 0))
    for w in args.web_seed:
        ct.add_url_seed(w)
    if args.private:
        ct.set_priv(True)
    if args.comment is not None:
        ct.set_comment(args.comment)
    if args.creator is not None:
        ct.set_creator(args.creator)
    lt.set_piece_hashes(ct, parent)
    entry = ct.generate()
    if args.date is not None:
        entry[b"creation date"] = args.date
    with open(args.out, "wb") as fh:
        fh.write(lt.bencode(entry))


def autopiece(sizes):
    for size in sizes:
        fs = lt.file_storage()
        fs.add_file("x", int(size))
        print(lt.create_torrent(fs, 0).piece_length())


def parse_magnet(uri):
    p = lt.parse_magnet_uri(uri)
    h = p.info_hashes
    json.dump({
        "v1": str(h.v1) if h.has_v1() else "",
        "v2": str(h.v2) if h.has_v2() else "",
        "name": p.name,
        "trackers": list(p.trackers),
        "web_seeds": list(p.url_seeds),
        "peers": ["%s:%d" % (ip, port) for ip, port in p.peers],
    }, sys.stdout)
    print()


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("file")
    co = sub.add_parser("corpus")
    co.add_argument("folder")
    m = sub.add_parser("magnet")
    m.add_argument("file")
    pm = sub.add_parser("parse-magnet")
    pm.add_argument("uri")
    a = sub.add_parser("autopiece")
    a.add_argument("sizes", nargs="+")
    c = sub.add_parser("create")
    c.add_argument("path")
    c.add_argument("out")
    c.add_argument("--mode", default="hybrid", choices=["v1", "v2", "hybrid"])
    c.add_argument("--piece-size", type=int, default=0)
    c.add_argument("--tracker", action="append", default=[])
    c.add_argument("--web-seed", action="append", default=[])
    c.add_argument("--private", action="store_true")
    c.add_argument("--comment")
    c.add_argument("--creator")
    c.add_argument("--date", type=int)
    args = parser.parse_args()
    if args.cmd == "dump":
        dump(args.file)
    elif args.cmd == "corpus":
        corpus(args.folder)
    elif args.cmd == "magnet":
        print(lt.make_magnet_uri(lt.torrent_info(args.file)))
    elif args.cmd == "parse-magnet":
        parse_magnet(args.uri)
    elif args.cmd == "autopiece":
        autopiece(args.sizes)
    else:
        create(args)


if __name__ == "__main__":
    main()
