#!/usr/bin/env python3
"""Connection-level conformance cases a stock client cannot produce (RFC 9113).

Scenarios:
  bad-preface   "INVALID CONNECTION PREFACE\\r\\n\\r\\n" padded past 24 bytes: the server
                should answer with GOAWAY before closing (§3.4).
  stream-order  HEADERS on stream 5, then HEADERS on stream 3: a lower new stream id is a
                connection error of type PROTOCOL_ERROR (§5.1.1).

Prints {"scenario", "frames": [frame type names], "goaway": bool, "goaway_code", "end",
"raw_head" (first bytes, when they are not frames)}."""
import argparse
import time

import rawh2 as h

NAMES = ["DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"]


def read_all(sock, result, wait):
    reader = h.FrameReader(sock)
    deadline = time.monotonic() + wait
    frames = []
    while True:
        f = reader.next(deadline)
        if f in (None, "reset", "timeout"):
            result["end"] = {None: "eof", "reset": "connreset", "timeout": "timeout"}[f]
            break
        ftype, flags, sid, payload = f
        frames.append(NAMES[ftype] if ftype < len(NAMES) else "type-%d" % ftype)
        if ftype == h.GOAWAY and not result["goaway"]:
            last, code, debug = h.goaway_fields(payload)
            result.update(goaway=True, goaway_code=code, goaway_name=h.ERROR_NAMES.get(code), debug=debug)
            deadline = min(deadline, time.monotonic() + 2)
    result["frames"] = frames
    # Whatever was left unparsed (e.g. an HTTP/1.1 answer).
    if reader.buf:
        result["raw_head"] = reader.buf[:80].decode("latin-1")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--scenario", required=True, choices=["bad-preface", "stream-order"])
    p.add_argument("--authority", default="backend")
    p.add_argument("--wait", type=float, default=5.0)
    a = p.parse_args()
    result = {"scenario": a.scenario, "goaway": False, "goaway_code": None, "end": None}
    sock = h.connect(a.port)
    try:
        if a.scenario == "bad-preface":
            sock.sendall(b"INVALID CONNECTION PREFACE\r\n\r\n".ljust(32, b"\0"))
        else:
            block = h.simple_request_block(a.authority, "/")
            sock.sendall(h.PREFACE + h.settings()
                         + h.frame(h.HEADERS, h.END_STREAM | h.END_HEADERS, 5, block)
                         + h.frame(h.HEADERS, h.END_STREAM | h.END_HEADERS, 3, block))
    except OSError as e:
        result["write_error"] = str(e)
    read_all(sock, result, a.wait)
    h.emit(result)


if __name__ == "__main__":
    main()
