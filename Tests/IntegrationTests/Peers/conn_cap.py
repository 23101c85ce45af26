#!/usr/bin/env python3
"""Connection cap: opens N idle-but-valid h2c connections (preface + SETTINGS, server
SETTINGS read back), then one more, which a capped server should close at accept; then
sends one request on each of the first N.

Prints {"opened": N accepted (server SETTINGS seen), "extra": "eof"|"connreset"|"settings"
|"timeout"|..., "extra_elapsed", "responses": {status: count}, "elapsed"}."""
import argparse
import time

import hpack

import rawh2 as h


def open_one(port, deadline):
    """Connects and sends preface + SETTINGS; returns (sock, reader, first thing seen)."""
    sock = h.connect(port)
    reader = h.FrameReader(sock)
    try:
        sock.sendall(h.PREFACE + h.settings())
    except OSError:
        return sock, reader, "connreset"
    f = reader.next(deadline)
    if f in (None, "reset", "timeout"):
        return sock, reader, {None: "eof", "reset": "connreset", "timeout": "timeout"}[f]
    if f[0] == h.SETTINGS:
        sock.sendall(h.frame(h.SETTINGS, h.ACK, 0))
        return sock, reader, "settings"
    return sock, reader, "frame-%d" % f[0]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--connections", type=int, default=100)
    p.add_argument("--authority", default="backend")
    p.add_argument("--path", default="/hello")
    a = p.parse_args()
    start = time.monotonic()
    result = {"opened": 0, "first_failures": {}}
    conns = []
    for _ in range(a.connections):
        sock, reader, seen = open_one(a.port, time.monotonic() + 3)
        if seen == "settings":
            result["opened"] += 1
            conns.append((sock, reader))
        else:
            result["first_failures"][seen] = result["first_failures"].get(seen, 0) + 1
            sock.close()
    # The one over the cap.
    t = time.monotonic()
    extra, _, seen = open_one(a.port, time.monotonic() + 3)
    result["extra"] = seen
    result["extra_elapsed"] = round(time.monotonic() - t, 3)
    if seen == "settings":
        # Accepted after all: does it at least end soon?
        r = h.FrameReader(extra).next(time.monotonic() + 2)
        result["extra_after_settings"] = {None: "eof", "reset": "connreset", "timeout": "open"}.get(r, "frame") if not isinstance(r, tuple) else "frame-%d" % r[0]
    extra.close()
    # Every one of the first N still serves a request.
    block = h.simple_request_block(a.authority, a.path)
    for sock, _ in conns:
        try:
            sock.sendall(h.frame(h.HEADERS, h.END_STREAM | h.END_HEADERS, 1, block))
        except OSError:
            pass
    statuses = {}
    deadline = time.monotonic() + 10
    for sock, reader in conns:
        decoder = hpack.Decoder()
        status = "none"
        while True:
            f = reader.next(deadline)
            if f in (None, "reset", "timeout"):
                status = {None: "eof", "reset": "connreset", "timeout": "timeout"}[f]
                break
            ftype, flags, sid, payload = f
            if ftype == h.HEADERS and sid == 1:
                status = dict(h.decode_headers(decoder, payload, flags)).get(":status", "none")
                break
            if ftype == h.RST_STREAM and sid == 1:
                status = "rst"
                break
            if ftype == h.GOAWAY:
                status = "goaway"
                break
        statuses[status] = statuses.get(status, 0) + 1
        sock.close()
    result["responses"] = statuses
    result["elapsed"] = round(time.monotonic() - start, 3)
    h.emit(result)


if __name__ == "__main__":
    main()
