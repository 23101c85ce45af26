"""An HTTP/1.1 origin server for the integration tests (stdlib only): the local endpoint
whose port's appProtocol is `http`.

    http1_server.py PORT DOCROOT

Prints one JSON line when listening ({"listening": PORT}) and one per request
({"method", "path", "conn", "headers", "trailers", "body_bytes"}).

- GET /<file>                  the file, with content-length
- GET /<file>?mode=chunked     the file, chunked (16 KiB chunks)
- GET /<file>?mode=close       the file, delimited by closing the connection
- GET /headers                 the request's fields as JSON
- GET /slow?ms=N               "slow\n" after N milliseconds
- POST|PUT /echo               the body back: content-length if the request had one, else
                               chunked, with the request's trailers as `x-echo-<name>`
                               response trailers
- POST /stall?ms=N             reads nothing for N milliseconds, then the body; answers its
                               length
- POST /early                  413 at once, before reading the body; then reads and drops
                               the body until the client closes
Every response carries `x-connection-id`: one number per TCP connection, so a test can see
its proxy reuse connections.
"""
import http.server
import itertools
import json
import os
import socketserver
import sys
import threading
import time
import urllib.parse

PORT = int(sys.argv[1])
DOCROOT = sys.argv[2]
CONNECTIONS = itertools.count(1)
LOCK = threading.Lock()


def log(obj):
    with LOCK:
        print(json.dumps(obj), flush=True)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.conn_id = next(CONNECTIONS)

    def log_message(self, *args):
        pass

    def handle(self):
        # A proxy that gives up on an exchange closes the connection under us.
        try:
            super().handle()
        except (ConnectionError, ValueError):
            pass

    def read_body(self):
        """The request body and its trailers, as the request frames them."""
        te = self.headers.get("transfer-encoding", "")
        if te.lower() == "chunked":
            body = bytearray()
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
            trailers = []
            while True:
                line = self.rfile.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                trailers.append((name.strip().lower(), value.strip()))
            return bytes(body), trailers, True
        length = int(self.headers.get("content-length", "0"))
        return self.rfile.read(length), [], False

    def record(self, body_bytes=0, trailers=()):
        log({"method": self.command, "path": self.path, "conn": self.conn_id,
             "headers": [[k.lower(), v] for k, v in self.headers.items()],
             "trailers": list(trailers), "body_bytes": body_bytes})

    def common(self):
        self.send_header("x-connection-id", str(self.conn_id))

    def do_HEAD(self):
        self.do_GET(head=True)

    def do_GET(self, head=False):
        self.record()
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/slow":
            time.sleep(int(query.get("ms", ["1000"])[0]) / 1000.0)
            self.send_response(200)
            self.common()
            self.send_header("content-length", "5")
            self.end_headers()
            if not head:
                self.wfile.write(b"slow\n")
            return
        if url.path == "/headers":
            data = json.dumps([[k.lower(), v] for k, v in self.headers.items()]).encode()
            self.send_response(200)
            self.common()
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            if not head:
                self.wfile.write(data)
            return
        path = os.path.join(DOCROOT, url.path.lstrip("/"))
        if not os.path.isfile(path):
            data = b"not found\n"
            self.send_response(404)
            self.common()
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            if not head:
                self.wfile.write(data)
            return
        mode = query.get("mode", ["length"])[0]
        size = os.path.getsize(path)
        self.send_response(200)
        self.common()
        if mode == "chunked":
            self.send_header("transfer-encoding", "chunked")
        elif mode == "close":
            self.send_header("connection", "close")
            self.close_connection = True
        else:
            self.send_header("content-length", str(size))
        self.end_headers()
        if head:
            return
        with open(path, "rb") as f:
            while True:
                block = f.read(16384)
                if not block:
                    break
                if mode == "chunked":
                    self.wfile.write(b"%x\r\n" % len(block) + block + b"\r\n")
                else:
                    self.wfile.write(block)
        if mode == "chunked":
            self.wfile.write(b"0\r\n\r\n")

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/early":
            self.record()
            data = b"too large\n"
            self.send_response(413)
            self.common()
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            self.close_connection = True
            while self.rfile.read1(65536):
                pass
            return
        if url.path == "/stall":
            time.sleep(int(urllib.parse.parse_qs(url.query).get("ms", ["1000"])[0]) / 1000.0)
            body, trailers, _ = self.read_body()
            self.record(len(body), trailers)
            data = b"%d\n" % len(body)
            self.send_response(200)
            self.common()
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        body, trailers, chunked = self.read_body()
        self.record(len(body), trailers)
        self.send_response(200)
        self.common()
        if chunked:
            self.send_header("transfer-encoding", "chunked")
            if trailers:
                self.send_header("trailer", ", ".join("x-echo-" + n for n, _ in trailers))
            self.end_headers()
            for i in range(0, len(body), 16384):
                block = body[i:i + 16384]
                self.wfile.write(b"%x\r\n" % len(block) + block + b"\r\n")
            self.wfile.write(b"0\r\n")
            for name, value in trailers:
                self.wfile.write(("x-echo-%s: %s\r\n" % (name, value)).encode("latin-1"))
            self.wfile.write(b"\r\n")
        else:
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    do_PUT = do_POST


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


server = Server(("127.0.0.1", PORT), Handler)
log({"listening": PORT})
server.serve_forever()
