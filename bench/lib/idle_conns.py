#!/usr/bin/env python3
"""Holds many idle HTTP/2 connections to a proxy and reads the proxy's memory (stdlib only),
for bench/idle-memory.sh.

usage: idle_conns.py --port P --count N --pids "PID ..." [--host 127.0.0.1]
                     [--tls --cafile ROOT --cert CHAIN --key KEY [--server-name NAME]]
                     [--path /hello --authority backend --body-size 100 | --no-request]
                     [--first N] [--settle S] [--concurrency C] [--timeout S]

One asyncio event loop, one small Protocol object per connection (no task, no stream
objects), raw HTTP/2 frames, no h2 library. Each connection: TCP connect (and, with --tls, a
TLS handshake with the client certificate, ALPN h2, the server verified against --cafile);
the HTTP/2 connection preface and an empty SETTINGS frame; the server's SETTINGS is
acknowledged; once the server has also acknowledged ours, one GET (HEADERS with END_STREAM on
stream 1) unless --no-request, whose response must be :status 200 with --body-size bytes of
DATA. Then the connection stays idle: the client only answers PINGs (and later SETTINGS).
At most --concurrency connections are being set up at a time, so that no handshake waits in a
listen queue long enough to hit a proxy's handshake timeout.

Memory of the proxy: summed VmRSS (and RssAnon) of --pids, read before the first connection,
after the first batch (--first, default a fifth of --count) has been idle for --settle
seconds (rss_mid), and after all --count have been idle for --settle seconds (rss_after,
sampled each second during that settle: rss_trace). Also the proxy's CPU time (utime + stime)
per connection set up (proxy_cpu_ms_per_conn, both batches and the first settle) and while all
connections are idle (proxy_idle_cpu_pct, % of one CPU over the last settle). Then it checks that every connection is
still open, counts the proxy's open descriptors and the established server-side sockets on
the port, closes everything, and prints one line of tab-separated key=value pairs. Errors go
to stderr (the first few).

Exit status 0 when every connection was set up (and its request answered) and is still open
at the end, 1 otherwise.
"""
import argparse
import asyncio
import os
import resource
import ssl
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


SETTINGS_EMPTY = frame(0x4, 0x0, 0)
SETTINGS_ACK = frame(0x4, 0x1, 0)
# :status values of the HPACK static table (RFC 7541 Appendix A), indexed representations.
STATIC_STATUS = {0x88: 200, 0x89: 204, 0x8A: 206, 0x8B: 304, 0x8C: 400, 0x8D: 404, 0x8E: 500}


def hpack_literal(index, value):
    """Literal header field without indexing, name from the static table, no Huffman."""
    v = value.encode("ascii")
    assert index < 15 and len(v) < 127
    return bytes([index, len(v)]) + v


def request_frame(path, authority, tls):
    block = (bytes([0x82, 0x87 if tls else 0x86])          # :method GET, :scheme https|http
             + hpack_literal(4, path) + hpack_literal(1, authority))   # :path, :authority
    return frame(0x1, 0x5, 1, block)                        # HEADERS, END_STREAM | END_HEADERS


class Conn(asyncio.Protocol):
    """One idle HTTP/2 client connection over a plain TCP transport; with TLS, an
    ssl.SSLObject over two MemoryBIOs of its own (asyncio's SSL transport keeps a 256 KiB
    read buffer per connection: 2.5 GB for 10,000 of them). `ready` resolves True when the
    SETTINGS exchange (and the request, if any) is done; setup state is dropped then."""

    __slots__ = ("transport", "tls", "bio_in", "bio_out", "buf", "ready", "request", "want_body",
                 "settings_in", "acked", "sent", "status", "body", "closed", "goaway", "pings",
                 "error", "hs")

    def __init__(self, ready, request, want_body, ctx=None, server_name=None):
        self.transport = None
        self.tls = self.bio_in = self.bio_out = None
        if ctx is not None:
            self.bio_in, self.bio_out = ssl.MemoryBIO(), ssl.MemoryBIO()
            self.tls = ctx.wrap_bio(self.bio_in, self.bio_out, server_side=False,
                                    server_hostname=server_name)
        self.buf = b""
        self.ready = ready
        self.request = request
        self.want_body = want_body
        self.settings_in = self.acked = self.sent = self.closed = False
        self.goaway = None
        self.status = None
        self.body = 0
        self.pings = 0
        self.error = None
        self.hs = False                                     # TLS handshake done

    # ---- transport and TLS
    def connection_made(self, transport):
        self.transport = transport
        if self.tls is None:
            transport.write(PREFACE + SETTINGS_EMPTY)
        else:
            self.handshake()

    def handshake(self):
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            self.flush()
            return
        except (ssl.SSLError, OSError) as e:
            self.flush()
            self.fail(f"TLS handshake: {e}")
            self.transport.abort()
            return
        self.hs = True
        self.flush()
        self.write(PREFACE + SETTINGS_EMPTY)
        self.read_tls()                                     # anything that came with the Finished

    def flush(self):
        if self.bio_out.pending:
            self.transport.write(self.bio_out.read())

    def write(self, data):
        if self.tls is None:
            self.transport.write(data)
        else:
            self.tls.write(data)
            self.flush()

    def read_tls(self):
        while True:
            try:
                chunk = self.tls.read(16384)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                self.fail("TLS close_notify from the server")
                break
            except (ssl.SSLError, OSError) as e:
                self.fail(f"TLS: {e}")
                self.transport.abort()
                break
            if not chunk:
                break
            self.h2_received(chunk)
        self.flush()                                        # e.g. a KeyUpdate answer

    def connection_lost(self, exc):
        self.closed = True
        self.fail(f"connection closed by the server{': ' + str(exc) if exc else ''}")

    def fail(self, why):
        if self.error is None:
            self.error = why
        if self.ready is not None and not self.ready.done():
            self.ready.set_result(False)

    def data_received(self, data):
        if self.tls is None:
            self.h2_received(data)
            return
        self.bio_in.write(data)
        if self.hs:
            self.read_tls()
        else:
            self.handshake()

    # ---- HTTP/2
    def h2_received(self, data):
        buf = self.buf + data if self.buf else data
        pos, n = 0, len(buf)
        while n - pos >= 9:
            length = int.from_bytes(buf[pos:pos + 3], "big")
            if n - pos < 9 + length:
                break
            ftype, flags = buf[pos + 3], buf[pos + 4]
            stream = int.from_bytes(buf[pos + 5:pos + 9], "big") & 0x7FFFFFFF
            payload = buf[pos + 9:pos + 9 + length]
            pos += 9 + length
            self.on_frame(ftype, flags, stream, payload)
        self.buf = buf[pos:] if pos < n else b""

    def on_frame(self, ftype, flags, stream, payload):
        if ftype == 0x4:                                    # SETTINGS
            if flags & 0x1:
                self.acked = True
            else:
                self.settings_in = True
                self.write(SETTINGS_ACK)
            self.progress()
        elif ftype == 0x6:                                  # PING
            if not flags & 0x1:
                self.pings += 1
                self.write(frame(0x6, 0x1, 0, payload))
        elif ftype == 0x7:                                  # GOAWAY
            code = int.from_bytes(payload[4:8], "big") if len(payload) >= 8 else -1
            self.goaway = code
            self.fail(f"GOAWAY (error code {code})")
        elif stream == 1 and ftype in (0x0, 0x1):           # DATA, HEADERS of our request
            pad = payload[0] if flags & 0x8 and payload else 0
            body = payload[1 if flags & 0x8 else 0:len(payload) - pad]
            if ftype == 0x1:
                if flags & 0x20:                            # PRIORITY fields
                    body = body[5:]
                if self.status is None:
                    self.status = STATIC_STATUS.get(body[0] if body else -1, "?")
            else:
                self.body += len(body)
            if flags & 0x1:                                 # END_STREAM
                if self.status == 200 and self.body == self.want_body:
                    self.request = None
                    self.progress()
                else:
                    self.fail(f"response: status {self.status}, {self.body} body bytes "
                              f"(want 200 with {self.want_body})")
        elif stream == 1 and ftype == 0x3:                  # RST_STREAM
            self.fail(f"request reset (error code {int.from_bytes(payload[:4], 'big')})")

    def progress(self):
        if not (self.settings_in and self.acked) or self.ready is None:
            return
        if self.request is not None:
            if not self.sent:
                self.sent = True
                self.write(self.request)
            return
        if not self.ready.done():
            self.ready.set_result(True)
        self.ready = None


def proc_status(pids, keys=("VmRSS:", "RssAnon:")):
    totals = dict.fromkeys(keys, 0)
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
                for line in f:
                    k = line.split(None, 1)[0] if line.strip() else ""
                    if k in totals:
                        totals[k] += int(line.split()[1])
        except OSError:
            pass
    return totals


def rss_kib(pids):
    return proc_status(pids)["VmRSS:"]


def cpu_ticks(pids):
    """utime + stime (clock ticks) of the processes."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


def open_fds(pids):
    total = 0
    for pid in pids:
        try:
            total += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            pass
    return total


def server_established(port):
    """ESTABLISHED IPv4 sockets whose local port is PORT: the proxy's side of our connections."""
    hexport = f"{port:04X}"
    n = 0
    with open("/proc/net/tcp", encoding="ascii") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[3] == "01" and fields[1].endswith(":" + hexport):
                n += 1
    return n


async def run(args):
    loop = asyncio.get_running_loop()
    pids = args.pids.split()
    ctx = None
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(args.cafile)
        ctx.load_cert_chain(args.cert, args.key)
        ctx.set_alpn_protocols(["h2"])
        ctx.check_hostname = True
    server_name = args.server_name or args.host
    request = None if args.no_request else request_frame(args.path, args.authority, args.tls)
    want_body = args.body_size
    conns, errors = [], []
    sem = asyncio.Semaphore(args.concurrency)
    setup_times = []

    async def open_one(i):
        async with sem:
            t0 = time.monotonic()
            ready = loop.create_future()
            proto = None
            try:
                _, proto = await asyncio.wait_for(
                    loop.create_connection(lambda: Conn(ready, request, want_body, ctx, server_name),
                                           args.host, args.port), args.timeout)
                ok = await asyncio.wait_for(ready, args.timeout)
                if not ok:
                    raise RuntimeError(proto.error)
                conns.append(proto)
                setup_times.append(time.monotonic() - t0)
            except (OSError, ssl.SSLError, asyncio.TimeoutError, RuntimeError) as e:
                why = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                errors.append(f"connection {i}: {why}")
                if proto is not None and proto.transport is not None:
                    proto.transport.abort()

    async def open_batch(start, stop):
        await asyncio.gather(*(open_one(i) for i in range(start, stop)))

    first = args.first if args.first is not None else (args.count // 5 if args.count >= 5 else 0)
    first = max(0, min(first, args.count))
    await asyncio.sleep(0.3)
    before = proc_status(pids)
    ticks0 = cpu_ticks(pids)
    t0 = time.monotonic()
    mid = dict(before)
    if first:
        await open_batch(0, first)
        await asyncio.sleep(args.settle)
        mid = proc_status(pids)
    mid_count = len(conns)
    t1 = time.monotonic()
    await open_batch(first, args.count)
    setup_s = time.monotonic() - t1 + (t1 - t0 - (args.settle if first else 0))
    ticks_idle0, t_idle0 = cpu_ticks(pids), time.monotonic()
    trace = []
    for _ in range(max(1, int(round(args.settle)))):
        await asyncio.sleep(args.settle / max(1, int(round(args.settle))))
        trace.append(rss_kib(pids))
    after = proc_status(pids)
    ticks1, t_idle1 = cpu_ticks(pids), time.monotonic()
    fds = open_fds(pids)
    established = server_established(args.port)
    alive = sum(1 for c in conns if c.error is None and not c.closed)
    lost = [c.error or "closed" for c in conns if c.error is not None or c.closed]
    for why in lost[:5]:
        errors.append(f"after setup: {why}")
    info = {"tls": "-", "cipher": "-", "alpn": "-"}
    if conns and ctx is not None:
        first_tls = conns[0].tls
        info = {"tls": first_tls.version(), "cipher": first_tls.cipher()[0],
                "alpn": first_tls.selected_alpn_protocol() or "-"}
    not_h2 = sum(1 for c in conns if c.tls is not None and c.tls.selected_alpn_protocol() != "h2")
    pings = sum(c.pings for c in conns)
    for c in conns:
        c.transport.abort()
    await asyncio.sleep(0.1)
    setup_times.sort()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    tck = os.sysconf("SC_CLK_TCK")
    fields = {
        "count": args.count, "opened": len(conns), "alive": alive, "mid_count": mid_count,
        "rss_before": before["VmRSS:"], "rss_mid": mid["VmRSS:"], "rss_after": after["VmRSS:"],
        "anon_before": before["RssAnon:"], "anon_mid": mid["RssAnon:"], "anon_after": after["RssAnon:"],
        "rss_trace": ",".join(str(v) for v in trace),
        "proxy_fds": fds, "server_established": established,
        "setup_s": f"{setup_s:.2f}",
        "setup_p50_ms": f"{setup_times[len(setup_times) // 2] * 1e3:.2f}" if setup_times else "-",
        "setup_p99_ms": f"{setup_times[int(len(setup_times) * 0.99)] * 1e3:.2f}" if setup_times else "-",
        "proxy_cpu_ms_per_conn": f"{(ticks_idle0 - ticks0) * 1e3 / tck / max(1, len(conns)):.3f}",
        "proxy_idle_cpu_pct": f"{(ticks1 - ticks_idle0) * 100 / tck / max(1e-3, t_idle1 - t_idle0):.1f}",
        "not_h2": not_h2, "pings": pings, "errors": len(errors),
        "client_rss_max_kib": usage.ru_maxrss,
        "client_cpu_ms_per_conn": f"{(usage.ru_utime + usage.ru_stime) * 1e3 / max(1, args.count):.3f}",
        **info,
    }
    print("\t".join(f"{k}={v}" for k, v in fields.items()))
    for e in errors[:8]:
        print(f"idle_conns: {e}", file=sys.stderr)
    if len(errors) > 8:
        print(f"idle_conns: ... and {len(errors) - 8} more", file=sys.stderr)
    return 0 if (len(conns) == args.count and alive == args.count and not errors) else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--pids", default="")
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--cafile")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--server-name", default=None, help="SNI and name checked (default: --host)")
    ap.add_argument("--path", default="/hello")
    ap.add_argument("--authority", default="backend")
    ap.add_argument("--body-size", type=int, default=100)
    ap.add_argument("--no-request", action="store_true")
    ap.add_argument("--first", type=int, default=None)
    ap.add_argument("--settle", type=float, default=3.0)
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args()
    if args.tls and not (args.cafile and args.cert and args.key):
        ap.error("--tls needs --cafile, --cert and --key")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
