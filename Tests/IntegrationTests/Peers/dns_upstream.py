#!/usr/bin/env python3
"""An upstream DNS resolver for the DNS tests, on loopback, UDP and TCP on one port. Fixed
answers (addresses from 192.0.2.0/24, TEST-NET-1, are data only, nothing is sent there):

- example.test          A 192.0.2.10 (no AAAA)
- big.example.test      60 A records (about 1 KB): over UDP, like a server limited to 512
                        bytes, only the header and question with TC; over TCP the whole set
- huge-udp.example.test the same 60 records, sent whole over UDP whatever the client's size
                        (a misbehaving upstream: the proxy must cut it to its client's size)
- huger-udp.example.test 100 A records (about 1.6 KB), sent whole over UDP likewise
- silent.example.test   never answered
- spoof.example.test    over UDP, first a reply with another id, then one with the right id
                        and another question, then the real answer 192.0.2.77
- anything else         NXDOMAIN

Prints {"port": N} once listening, then one JSON line per query received:
{"proto": "udp"|"tcp", "name": ..., "type": N, "source_port": N}. Runs until killed."""
import argparse
import json
import selectors
import socket
import struct
import sys

import dnswire as w


def records_for(name, qtype):
    if name == "example.test" and qtype == w.A:
        return [(w.A, bytes([192, 0, 2, 10]))]
    if name in ("big.example.test", "huge-udp.example.test") and qtype == w.A:
        return [(w.A, bytes([192, 0, 2, i])) for i in range(1, 61)]
    if name == "huger-udp.example.test" and qtype == w.A:
        return [(w.A, bytes([192, 0, 2, i])) for i in range(1, 101)]
    if name == "spoof.example.test" and qtype == w.A:
        return [(w.A, bytes([192, 0, 2, 77]))]
    return None


def replies(req, proto, source_port):
    """The messages to send back for one query (possibly none)."""
    name, qtype, _, _ = w.question(req)
    print(json.dumps({"proto": proto, "name": name, "type": qtype, "source_port": source_port}), flush=True)
    if name == "silent.example.test":
        return []
    recs = records_for(name, qtype)
    known = name in ("example.test", "big.example.test", "huge-udp.example.test", "huger-udp.example.test", "spoof.example.test")
    if recs is None:
        return [w.answer(req, code=0 if known else 3)]
    full = w.answer(req, records=recs)
    if proto == "udp" and name == "big.example.test" and len(full) > 512:
        return [w.answer(req, tc=True)]
    if proto == "udp" and name == "spoof.example.test":
        qid = w.header(req)[0]
        wrong_id = struct.pack(">H", qid ^ 0x5555) + full[2:]
        other = w.answer(w.query("evil.example.test", qid=qid), records=[(w.A, bytes([192, 0, 2, 66]))])
        return [wrong_id, other, full]
    return [full]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--bind", default="127.0.0.1", help="address to listen on (a remote host's, in a network namespace)")
    a = p.parse_args()
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((a.bind, a.port))
    tcp.listen(16)
    port = tcp.getsockname()[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((a.bind, port))
    sel = selectors.DefaultSelector()
    sel.register(udp, selectors.EVENT_READ, "udp")
    sel.register(tcp, selectors.EVENT_READ, "listen")
    buffers = {}
    peers = {}
    print(json.dumps({"port": port}), flush=True)
    while True:
        for key, _ in sel.select():
            if key.data == "udp":
                req, addr = udp.recvfrom(65535)
                try:
                    for msg in replies(req, "udp", addr[1]):
                        udp.sendto(msg, addr)
                except (ValueError, IndexError, struct.error):
                    pass
            elif key.data == "listen":
                conn, peer = tcp.accept()
                buffers[conn] = b""
                peers[conn] = peer[1]
                sel.register(conn, selectors.EVENT_READ, "tcp")
            else:
                conn = key.fileobj
                data = conn.recv(65535)
                if not data:
                    sel.unregister(conn)
                    conn.close()
                    buffers.pop(conn, None)
                    peers.pop(conn, None)
                    continue
                buffers[conn] += data
                buf = buffers[conn]
                while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
                    n = struct.unpack(">H", buf[:2])[0]
                    req, buf = buf[2:2 + n], buf[2 + n:]
                    for msg in replies(req, "tcp", peers[conn]):
                        conn.sendall(struct.pack(">H", len(msg)) + msg)
                buffers[conn] = buf


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
