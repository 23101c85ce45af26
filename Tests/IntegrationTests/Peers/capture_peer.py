#!/usr/bin/env python3
"""Servers and clients for the traffic capture tests (CaptureTests.swift).

Servers (run until killed; print one JSON line when listening):
  banner  --bind A --port P [--text T]  TCP: writes "220 T\\r\\n" at once on accept (the server
                                        speaks first), then answers each line with "echo: LINE"
  digest  --bind A --port P [--delay S] TCP: (waits S seconds, reading nothing, then) reads to end
                                        of stream, answers "<count> <sha256>\\n", closes (needs the
                                        client's half-close to arrive)
  flood   --bind A --port P --size N    TCP: writes N bytes as fast as the peer takes them, closes
  udp     --bind A --port P --text T    UDP: answers each datagram with "T:" + the datagram
  tcptag  --bind A --port P --text T    TCP: answers "T:" + the first line, closes

Clients (print one JSON line with what happened):
  get-banner --host H --port P          reads the banner without sending first, then echoes
  send-digest --host H --port P --size N  sends N bytes, half-closes, reads the answer
  slow-read --host H --port P [--delay S] (waits S seconds, then) reads to end: count and sha256
  udp-ask --host H --port P             one datagram, one answer
  tcp-ask --host H --port P             one line, the answer
  raw --host H --port P --send TEXT     sends TEXT, reads until the server closes
Clients take --mark M (SO_MARK) and --uid U (setuid before connecting).
"""
import argparse
import hashlib
import json
import os
import socket
import sys
import threading
import time

SO_MARK = 36


def out(**fields):
    print(json.dumps(fields), flush=True)


def pattern(size):
    """Deterministic, non-repeating-looking bytes: a digest chain."""
    chunks, block, total = [], b"causeway", 0
    while total < size:
        block = hashlib.sha256(block).digest()
        chunks.append(block)
        total += len(block)
    return b"".join(chunks)[:size]


def listen(bind, port, kind=socket.SOCK_STREAM):
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    s = socket.socket(family, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((bind, port))
    if kind == socket.SOCK_STREAM:
        s.listen(64)
    return s


def serve(server, handler):
    while True:
        conn, _ = server.accept()
        threading.Thread(target=handler, args=(conn,), daemon=True).start()


def banner(args):
    def handle(conn):
        with conn:
            conn.sendall(("220 %s\r\n" % args.text).encode())
            f = conn.makefile("rb")
            for line in f:
                conn.sendall(b"echo: " + line)
    server = listen(args.bind, args.port)
    out(listening=args.port)
    serve(server, handle)


def digest(args):
    def handle(conn):
        with conn:
            time.sleep(args.delay)
            h, count = hashlib.sha256(), 0
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                h.update(data)
                count += len(data)
            conn.sendall(("%d %s\n" % (count, h.hexdigest())).encode())
    server = listen(args.bind, args.port)
    out(listening=args.port)
    serve(server, handle)


def flood(args):
    data = pattern(args.size)

    def handle(conn):
        with conn:
            conn.sendall(data)
    server = listen(args.bind, args.port)
    out(listening=args.port)
    serve(server, handle)


def udp(args):
    s = listen(args.bind, args.port, socket.SOCK_DGRAM)
    out(listening=args.port)
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(args.text.encode() + b":" + data, peer)


def tcptag(args):
    def handle(conn):
        with conn:
            line = conn.makefile("rb").readline()
            conn.sendall(args.text.encode() + b":" + line)
    server = listen(args.bind, args.port)
    out(listening=args.port)
    serve(server, handle)


def client_socket(args, kind=socket.SOCK_STREAM):
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    s = socket.socket(family, kind)
    if args.mark:
        s.setsockopt(socket.SOL_SOCKET, SO_MARK, args.mark)
    s.settimeout(args.timeout)
    return s


def get_banner(args):
    s = client_socket(args)
    s.connect((args.host, args.port))
    f = s.makefile("rb")
    first = f.readline().decode().rstrip("\r\n")
    s.sendall(b"ping\n")
    echo = f.readline().decode().rstrip("\n")
    s.close()
    out(banner=first, echo=echo)


def send_digest(args):
    data = pattern(args.size)
    s = client_socket(args)
    s.connect((args.host, args.port))
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    answer = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        answer += chunk
    s.close()
    out(answer=answer.decode().strip(), expected="%d %s" % (len(data), hashlib.sha256(data).hexdigest()))


def slow_read(args):
    s = client_socket(args)
    s.connect((args.host, args.port))
    time.sleep(args.delay)
    h, count = hashlib.sha256(), 0
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        h.update(chunk)
        count += len(chunk)
    s.close()
    out(count=count, sha256=h.hexdigest(), expected=hashlib.sha256(pattern(args.size)).hexdigest())


def udp_ask(args):
    s = client_socket(args, socket.SOCK_DGRAM)
    s.sendto(b"question", (args.host, args.port))
    data, _ = s.recvfrom(2048)
    out(answer=data.decode())


def tcp_ask(args):
    s = client_socket(args)
    s.connect((args.host, args.port))
    s.sendall(b"question\n")
    data = s.makefile("rb").readline()
    s.close()
    out(answer=data.decode().strip())


def raw(args):
    s = client_socket(args)
    received, ending = b"", "timeout"
    started = time.monotonic()
    try:
        # A reset may come before the send, even before connect() has looked at the
        # handshake's outcome (a relay whose destination refused it at once).
        s.connect((args.host, args.port))
        s.sendall(args.send.encode())
        while True:
            chunk = s.recv(4096)
            if not chunk:
                ending = "closed"
                break
            received += chunk
    except (ConnectionResetError, BrokenPipeError):
        ending = "reset"
    except socket.timeout:
        pass
    s.close()
    out(received=received.decode(errors="replace"), ending=ending, seconds=round(time.monotonic() - started, 3))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode")
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--host")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--text", default="causeway-test")
    p.add_argument("--size", type=int, default=0)
    p.add_argument("--send", default="")
    p.add_argument("--mark", type=int, default=0)
    p.add_argument("--uid", type=int)
    p.add_argument("--timeout", type=float, default=10)
    p.add_argument("--delay", type=float, default=0)
    args = p.parse_args()
    if args.uid is not None:
        os.setuid(args.uid)
    modes = {"banner": banner, "digest": digest, "udp": udp, "tcptag": tcptag, "get-banner": get_banner,
             "send-digest": send_digest, "flood": flood, "slow-read": slow_read, "udp-ask": udp_ask, "tcp-ask": tcp_ask, "raw": raw}
    try:
        modes[args.mode](args)
    except Exception as e:  # a client's failure is a result too
        out(error="%s: %s" % (type(e).__name__, e))
        sys.exit(1)


if __name__ == "__main__":
    main()
