#!/usr/bin/env python3
"""Opens several HTTP/2 streams on one connection, waits while the proxy queues them, then
abandons them in one write: RST_STREAM(CANCEL) on each (--reset all, the first one first)
or on the first only (--reset first), then closes the connection; with --abort it resets
it instead (SO_LINGER 0).

    h2_abandon.py --port P [--authority A] [--path PATH] [--streams N] [--wait S]
                  [--reset all|first] [--abort]

Prints {"streams": N, "frames_seen": count of frames read before abandoning,
"responses": streams answered before abandoning}."""
import argparse
import socket
import struct
import time

import rawh2 as h


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--authority", default="web1")
    p.add_argument("--path", default="/slow?ms=3000")
    p.add_argument("--streams", type=int, default=8)
    p.add_argument("--wait", type=float, default=1.0)
    p.add_argument("--abort", action="store_true")
    p.add_argument("--reset", choices=["all", "first"], default="all", help="which streams get RST_STREAM")
    a = p.parse_args()
    sock = h.connect(a.port)
    block = h.simple_request_block(a.authority, a.path)
    ids = [1 + 2 * i for i in range(a.streams)]
    out = h.PREFACE + h.settings()
    for sid in ids:
        out += h.frame(h.HEADERS, h.END_STREAM | h.END_HEADERS, sid, block)
    sock.sendall(out)
    reader = h.FrameReader(sock)
    seen = 0
    answered = set()
    deadline = time.monotonic() + a.wait
    while True:
        f = reader.next(deadline)
        if f == "timeout" or f in (None, "reset"):
            break
        ftype, flags, sid, _ = f
        seen += 1
        if ftype == h.SETTINGS and not flags & h.ACK:
            sock.sendall(h.frame(h.SETTINGS, h.ACK, 0))
        if ftype == h.HEADERS:
            answered.add(sid)
    # The stream on the wire first, then those queued behind it, all in one write.
    resets = ids if a.reset == "all" else ids[:1]
    sock.sendall(b"".join(h.frame(h.RST_STREAM, 0, sid, struct.pack(">I", 0x8)) for sid in resets))
    if a.abort:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    h.emit({"streams": a.streams, "frames_seen": seen, "responses": len(answered)})


if __name__ == "__main__":
    main()
