#!/usr/bin/env python3
"""A client that advertises SETTINGS_INITIAL_WINDOW_SIZE=0, opens N streams for a large
response and never opens their windows: it holds N responses inside the proxy.

Prints a first line {"ready": true, "headers": K, "elapsed"} once K == N response
HEADERS arrived (or after --ready-timeout), then holds the streams for --hold seconds
(still answering PING/SETTINGS) and prints {"done": true, "headers", "resets",
"data_bytes", "goaway_code"}."""
import argparse
import socket
import ssl
import time

import h2.config
import h2.connection
import h2.events
import h2.settings

import rawh2


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--authority", default="backend")
    p.add_argument("--path", required=True)
    p.add_argument("--streams", type=int, default=40)
    p.add_argument("--ready-timeout", type=float, default=5.0)
    p.add_argument("--hold", type=float, default=20.0)
    p.add_argument("--tls-ca")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    a = p.parse_args()
    start = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", a.port), timeout=5)
    scheme = "http"
    if a.tls_ca:  # mTLS, as a gateway listener requires
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_verify_locations(a.tls_ca)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        ctx.set_alpn_protocols(["h2"])
        sock = ctx.wrap_socket(sock, server_hostname="127.0.0.1")
        scheme = "https"
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    conn.local_settings = h2.settings.Settings(client=True, initial_values={
        h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0,
        h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100,
    })
    conn.initiate_connection()
    streams = []
    for _ in range(a.streams):
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [(":method", "GET"), (":scheme", scheme), (":authority", a.authority), (":path", a.path)], end_stream=True)
        streams.append(sid)
    sock.sendall(conn.data_to_send())
    state = {"headers": 0, "resets": 0, "data_bytes": 0, "goaway_code": None, "eof": False}
    ready_printed = False

    def pump(until):
        while time.monotonic() < until and not state["eof"]:
            sock.settimeout(max(0.05, min(0.5, until - time.monotonic())))
            try:
                data = sock.recv(65536)
            except socket.timeout:
                return
            except OSError:
                state["eof"] = True
                return
            if not data:
                state["eof"] = True
                return
            for e in conn.receive_data(data):
                if isinstance(e, h2.events.ResponseReceived):
                    state["headers"] += 1
                elif isinstance(e, h2.events.DataReceived):
                    state["data_bytes"] += len(e.data)  # never acknowledged: windows stay shut
                elif isinstance(e, h2.events.StreamReset):
                    state["resets"] += 1
                elif isinstance(e, h2.events.ConnectionTerminated):
                    state["goaway_code"] = int(e.error_code)
            out = conn.data_to_send()
            if out:
                sock.sendall(out)

    ready_deadline = start + a.ready_timeout
    while time.monotonic() < ready_deadline and state["headers"] < a.streams and not state["eof"]:
        pump(time.monotonic() + 0.2)
    rawh2.emit({"ready": True, "headers": state["headers"], "elapsed": round(time.monotonic() - start, 3)})
    hold_until = time.monotonic() + a.hold
    while time.monotonic() < hold_until and not state["eof"]:
        pump(time.monotonic() + 0.5)
    state["done"] = True
    rawh2.emit(state)


if __name__ == "__main__":
    main()
