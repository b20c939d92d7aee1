#!/usr/bin/env python3
"""A scripted, misbehaving tracker for BTTracker's failure-case tests (loopback only, stdlib only).

Usage: fake_tracker.py UDP_MODE [CERT_PEM KEY_PEM]
With CERT_PEM and KEY_PEM the HTTP port speaks HTTPS (TLS) with that certificate instead of plain HTTP.
Binds 127.0.0.1 on a free TCP port (HTTP) and a free UDP port, and ::1 on a free UDP port when IPv6 works,
prints "HTTP_PORT UDP_PORT UDP6_PORT" (0 when there is no IPv6) and serves until killed. The HTTP behaviour is chosen by the first path component
(ok, dict, failure, headsize, ...: see do_GET); the UDP behaviour by UDP_MODE:
  ok          proper BEP 15 tracker (connect, announce with two peers, scrape)
  wrong-txid  answers every packet with the wrong transaction id
  truncated   answers a connect with a 12-byte packet
  error       answers with an error action
  silent      never answers (counts the packets it gets and reports them on /udp-count over HTTP)
"""
import gzip
import http.server
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import urllib.parse

UDP_MODE = sys.argv[1] if len(sys.argv) > 1 else "ok"
TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER) if len(sys.argv) > 3 else None
if TLS:
    TLS.load_cert_chain(sys.argv[2], sys.argv[3])
udp_packets = 0


def bencode(value):
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(value)


COMPACT = bytes([10, 1, 2, 3, 0x1A, 0xE1, 192, 0, 2, 7, 0x00, 0x50])
COMPACT6 = bytes(15) + b"\x01" + b"\x1a\xe2"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        # The TLS handshake runs here, on the connection's own thread, so a client that never finishes it
        # (or rejects the certificate) cannot stall the accept loop.
        if TLS:
            self.request.settimeout(10)
            self.request.do_handshake()
        super().setup()

    def send(self, body, status=200, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path, _, query = self.path.partition("?")
        parts = [p for p in path.split("/") if p]
        mode = parts[0] if parts else ""
        ok = {"interval": 1800, "min interval": 60, "complete": 5, "incomplete": 7, "peers": COMPACT,
              "peers6": COMPACT6, "warning message": query, "tracker id": b"T-ID"}
        if mode == "ok" and parts[-1].startswith("scrape"):
            files = {}
            for field in query.split("&"):
                if field.startswith("info_hash="):
                    h = urllib.parse.unquote_to_bytes(field[len("info_hash="):])
                    files[h] = {"complete": 3, "incomplete": 4, "downloaded": 9}
            self.send(bencode({"files": files}))
        elif mode == "ok":
            self.send(bencode(ok))
        elif mode == "headsize":
            # The size of the request head as received, in `warning message` (header lines re-joined as
            # "Name: value\r\n", which is how AsyncHTTPClient writes them).
            size = len(self.raw_requestline) + 2
            size += sum(len(name) + len(value) + 4 for name, value in self.headers.items())
            self.send(bencode(dict(ok, **{"warning message": str(size)})))
        elif mode == "dict":
            peers = [{"ip": "10.9.8.7", "port": 6881, "peer id": b"P" * 20}, {"ip": "::1", "port": 51413}]
            self.send(bencode({"interval": 900, "peers": peers}))
        elif mode == "failure":
            self.send(bencode({"failure reason": "torrent not registered"}))
        elif mode == "failure500":
            self.send(bencode({"failure reason": "overloaded"}), status=500)
        elif mode == "status404":
            self.send(b"<html>no</html>", status=404)
        elif mode == "malformed":
            self.send(b"d8:intervali1800e5:peers12:abc")
        elif mode == "notdict":
            self.send(b"li1ei2ee")
        elif mode == "huge":
            body = b"d5:peers" + b"%d:" % (8 << 20) + bytes(8 << 20) + b"e"
            self.send(body)
        elif mode == "gzip":
            self.send(gzip.compress(bencode(ok)), headers=[("Content-Encoding", "gzip")])
        elif mode == "gzipbomb":
            self.send(gzip.compress(bencode({"interval": 1, "x": bytes(50 << 20)})),
                      headers=[("Content-Encoding", "gzip")])
        elif mode == "slow":
            time.sleep(20)
            self.send(bencode(ok))
        elif mode == "drip":
            body = bencode(ok)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for byte in body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.3)
        elif mode == "loop":
            self.send(b"", status=302, headers=[("Location", "/loop/announce")])
        elif mode == "hop":
            self.send(b"", status=301, headers=[("Location", "/ok/announce?" + query)])
        elif mode == "toprivate":
            self.send(b"", status=302, headers=[("Location", "http://10.255.255.1/announce")])
        elif mode == "udp-count":
            self.send(str(udp_packets).encode())
        else:
            self.send(b"not found", status=404)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def serve_udp(sock, ipv6=False):
    global udp_packets
    connection = 0x1122334455667788
    while True:
        data, address = sock.recvfrom(65536)
        udp_packets += 1
        if len(data) < 16:
            continue
        action, txid = struct.unpack(">II", data[8:16])
        if UDP_MODE == "silent":
            continue
        if UDP_MODE == "wrong-txid":
            sock.sendto(struct.pack(">IIQ", 0, (txid + 1) & 0xFFFFFFFF, connection), address)
            continue
        if UDP_MODE == "error":
            sock.sendto(struct.pack(">II", 3, txid) + b"you are banned", address)
            continue
        if UDP_MODE == "truncated":
            sock.sendto(struct.pack(">II", 0, txid) + b"\x00\x01\x02\x03", address)
            continue
        if action == 0:
            sock.sendto(struct.pack(">IIQ", 0, txid, connection), address)
        elif action == 1:
            if struct.unpack(">Q", data[:8])[0] != connection:
                sock.sendto(struct.pack(">II", 3, txid) + b"bad connection id", address)
                continue
            # Echo the BEP 41 URL data length as the interval so the test can see it arrived.
            options = data[98:]
            url = b""
            while len(options) >= 2 and options[0] == 2:
                url += options[2:2 + options[1]]
                options = options[2 + options[1]:]
            peers = COMPACT6 if ipv6 else COMPACT
            sock.sendto(struct.pack(">IIIII", 1, txid, 1000 + len(url), 2, 3) + peers, address)
        elif action == 2:
            count = (len(data) - 16) // 20
            sock.sendto(struct.pack(">II", 2, txid) + struct.pack(">III", 6, 8, 1) * count, address)


def main():
    server = Server(("127.0.0.1", 0), Handler)
    if TLS:
        server.socket = TLS.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    threading.Thread(target=serve_udp, args=(udp,), daemon=True).start()
    udp6_port = 0
    try:
        udp6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        udp6.bind(("::1", 0))
        udp6_port = udp6.getsockname()[1]
        threading.Thread(target=serve_udp, args=(udp6, True), daemon=True).start()
    except OSError:
        pass
    print(server.server_address[1], udp.getsockname()[1], udp6_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
