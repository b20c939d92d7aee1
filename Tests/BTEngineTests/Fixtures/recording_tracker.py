#!/usr/bin/env python3
"""A minimal HTTP tracker that records what it is told (loopback only, stdlib only).

Usage: recording_tracker.py
Binds 127.0.0.1 on a free TCP port, prints {"port": N} and serves until killed (or stdin closes). Every announce
prints {"event": E} (E empty for a regular announce) and is answered with the compact peers that announced the
same info-hash before (at 127.0.0.1 and the port they gave).
"""
import http.server
import json
import sys
import threading
import socketserver
import struct
import urllib.parse

swarms = {}


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path, _, query = self.path.partition("?")
        fields = dict(urllib.parse.parse_qsl(query, encoding="latin-1"))
        info_hash = fields.get("info_hash", "")
        port = int(fields.get("port", "0"))
        print(json.dumps({"event": fields.get("event", "")}), flush=True)
        swarm = swarms.setdefault(info_hash, [])
        peers = b"".join(struct.pack(">4sH", bytes([127, 0, 0, 1]), p) for p in swarm if p != port)
        if fields.get("event") == "stopped":
            swarm[:] = [p for p in swarm if p != port]
        elif port and port not in swarm:
            swarm.append(port)
        self.send(b"d8:intervali1800e5:peers%d:%se" % (len(peers), peers))


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
print(json.dumps({"port": server.server_address[1]}), flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()
