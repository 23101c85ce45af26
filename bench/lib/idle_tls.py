#!/usr/bin/env python3
"""Memory per idle mTLS HTTP/2 connection of a gateway (stdlib only), for bench/chain.sh.

usage: idle_tls.py --port P --count N --cafile ROOT --cert CHAIN --key KEY
                   --pids "PID ..." [--settle S] [--host 127.0.0.1]

Reads the summed VmRSS of the given processes, opens TLS connections to the gateway with
the client certificate (ALPN h2), sends the HTTP/2 connection preface and an empty SETTINGS
frame on each, reads the gateway's SETTINGS and acknowledges them, waits SETTLE seconds
with every connection idle and reads VmRSS again: first for N/5 connections (rss_mid), then
for all N (rss_after). Checks how many are still open, and closes them all. Prints one line
of tab-separated key=value pairs:

  rss_before=KiB rss_mid=KiB mid_count=N/5 rss_after=KiB opened=N alive=N tls=TLSv1.3
  cipher=... alpn=h2 handshake_ms=...

Exit status 0 when every connection was opened and still open at the end, 1 otherwise.
"""
import argparse
import select
import socket
import ssl
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS_EMPTY = struct.pack(">I", 0)[1:] + bytes([0x4, 0x0]) + struct.pack(">I", 0)
SETTINGS_ACK = struct.pack(">I", 0)[1:] + bytes([0x4, 0x1]) + struct.pack(">I", 0)


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def read_server_settings(tls, timeout):
    """Reads frames until the peer's (non-ACK) SETTINGS frame; True if it came."""
    tls.settimeout(timeout)
    buf = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        while len(buf) >= 9:
            length = int.from_bytes(buf[0:3], "big")
            ftype, flags = buf[3], buf[4]
            if len(buf) < 9 + length:
                break
            buf = buf[9 + length:]
            if ftype == 0x4 and not flags & 0x1:
                return True
        try:
            chunk = tls.recv(16384)
        except (socket.timeout, ssl.SSLWantReadError):
            continue
        if not chunk:
            return False
        buf += chunk
    return False


def still_open(tls):
    """False if the peer closed the connection (readable with EOF or an error)."""
    try:
        r, _, _ = select.select([tls], [], [], 0)
        if not r:
            return True
        tls.setblocking(False)
        try:
            data = tls.recv(16384)
        except ssl.SSLWantReadError:
            return True
        return bool(data)   # data: e.g. a PING or a late session ticket; still open
    except (OSError, ssl.SSLError):
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--pids", required=True)
    ap.add_argument("--settle", type=float, default=2.0)
    args = ap.parse_args()
    pids = args.pids.split()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(args.cafile)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.set_alpn_protocols(["h2"])
    ctx.check_hostname = True          # the gateway certificate has IP:127.0.0.1

    conns, errors = [], []

    def open_batch(n):
        opened = []
        for i in range(n):
            try:
                raw = socket.create_connection((args.host, args.port), timeout=5)
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                tls = ctx.wrap_socket(raw, server_hostname=args.host)
                tls.sendall(PREFACE + SETTINGS_EMPTY)
                opened.append(tls)
            except (OSError, ssl.SSLError) as e:
                errors.append(f"connection {len(conns) + i}: {e}")
        for tls in opened:
            try:
                if read_server_settings(tls, 5.0):
                    tls.sendall(SETTINGS_ACK)
                else:
                    errors.append("no SETTINGS from the gateway")
            except (OSError, ssl.SSLError) as e:
                errors.append(f"reading SETTINGS: {e}")
        conns.extend(opened)
        time.sleep(args.settle)
        return rss_kib(pids)

    # Two batches: the first fifth, then the rest. The first connections may reuse memory the
    # gateway's allocator kept from earlier traffic; the second batch's slope is the marginal
    # cost of one more idle connection.
    first_n = max(1, args.count // 5) if args.count >= 2 else args.count
    time.sleep(0.5)
    before = rss_kib(pids)
    t0 = time.monotonic()
    mid = open_batch(first_n)
    mid_count = len(conns)
    after = open_batch(args.count - first_n) if args.count > first_n else mid
    handshake_ms = (time.monotonic() - t0 - args.settle * (2 if args.count > first_n else 1)) * 1e3 / max(1, args.count)
    alive = sum(1 for tls in conns if still_open(tls))
    first = conns[0] if conns else None
    fields = {
        "rss_before": before, "rss_mid": mid, "mid_count": mid_count, "rss_after": after,
        "opened": len(conns), "alive": alive,
        "tls": first.version() if first else "-",
        "cipher": first.cipher()[0] if first else "-",
        "alpn": (first.selected_alpn_protocol() or "-") if first else "-",
        "handshake_ms": f"{handshake_ms:.2f}",
    }
    for tls in conns:
        try:
            tls.close()
        except OSError:
            pass
    print("\t".join(f"{k}={v}" for k, v in fields.items()))
    for e in errors[:5]:
        print(f"idle_tls: {e}", file=sys.stderr)
    if len(errors) > 5:
        print(f"idle_tls: ... and {len(errors) - 5} more", file=sys.stderr)
    return 0 if (alive == args.count and not errors) else 1


if __name__ == "__main__":
    sys.exit(main())
