#!/usr/bin/env python3
"""Floods of frames that cost the server work and carry nothing: SETTINGS frames, or
empty DATA frames on an open request stream. Sends --frames of them in bursts and reads
until GOAWAY or the end of the connection.

Prints {"sent", "goaway": bool, "goaway_code", "end": "eof"|"connreset"|"timeout"}."""
import argparse
import time

import rawh2 as h


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--kind", choices=["settings", "empty-data"], required=True)
    p.add_argument("--frames", type=int, default=3000)
    p.add_argument("--authority", default="backend")
    a = p.parse_args()
    sock = h.connect(a.port)
    sock.sendall(h.PREFACE + h.settings())
    reader = h.FrameReader(sock)
    result = {"sent": 0, "goaway": False, "goaway_code": None, "end": None}
    if a.kind == "empty-data":
        # A request whose body never comes, only empty DATA frames.
        sock.sendall(h.frame(h.HEADERS, h.END_HEADERS, 1, h.simple_request_block(a.authority, "/", "POST")))
    one = h.settings() if a.kind == "settings" else h.frame(h.DATA, 0, 1, b"")
    deadline = time.monotonic() + 15
    try:
        while result["sent"] < a.frames and not result["goaway"] and result["end"] is None:
            sock.sendall(one * 100)
            result["sent"] += 100
            while True:
                f = reader.next(time.monotonic() + 0.005)
                if f == "timeout":
                    break
                if f in (None, "reset"):
                    result["end"] = "eof" if f is None else "connreset"
                    break
                ftype, flags, sid, payload = f
                if ftype == h.GOAWAY:
                    last, code, debug = h.goaway_fields(payload)
                    result.update(goaway=True, goaway_code=code)
                    break
    except OSError as e:
        result["write_error"] = str(e)
    while not result["goaway"] and result["end"] is None:
        f = reader.next(deadline)
        if f == "timeout":
            result["end"] = "timeout"
        elif f in (None, "reset"):
            result["end"] = "eof" if f is None else "connreset"
        elif f[0] == h.GOAWAY:
            last, code, debug = h.goaway_fields(f[3])
            result.update(goaway=True, goaway_code=code)
    h.emit(result)


if __name__ == "__main__":
    main()
