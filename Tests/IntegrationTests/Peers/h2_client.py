#!/usr/bin/env python3
"""One HTTP/2 request with the `h2` library, shaped by flags a stock client lacks:
arbitrary pseudo-headers and `host`, CONNECT, huge or many header fields, request
trailers, a request left open (no END_STREAM), and mTLS with a given certificate.

Prints {"outcome": "response"|"rst"|"goaway"|"eof"|"timeout"|"client-error", "status",
"reason" (x-causeway-reason), "headers", "body_len", "rst_code", "goaway_code",
"header_block_bytes" (response header fields, name + value), "elapsed"}."""
import argparse
import socket
import ssl
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

import rawh2


def pair(text):
    """"NAME: VALUE" as a (name, value) pair; regular fields only."""
    name, _, value = text.partition(":")
    return name.strip().lower(), value.strip()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--method", default="GET")
    p.add_argument("--scheme", default="http")
    p.add_argument("--authority", default="backend")
    p.add_argument("--path", default="/")
    p.add_argument("--no-path-scheme", action="store_true", help="omit :scheme and :path (CONNECT)")
    p.add_argument("--header", action="append", default=[], help="NAME: VALUE, repeatable")
    p.add_argument("--big-header", type=int, default=0, help="add x-big with a value of this many bytes")
    p.add_argument("--filler-headers", type=int, default=0, help="add this many x-filler-N fields")
    p.add_argument("--body", default=None)
    p.add_argument("--trailer", action="append", default=[], help="NAME: VALUE, repeatable")
    p.add_argument("--no-end-stream", action="store_true", help="send HEADERS without END_STREAM, then nothing")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--linger", type=float, default=0.0,
                   help="after the response ended, keep reading this long; a reset of the stream then is "
                        "reported as rst_after_response (its code)")
    p.add_argument("--tls-ca")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    a = p.parse_args()

    start = time.monotonic()
    result = {"outcome": "timeout", "status": None, "reason": None, "headers": {}, "body_len": 0}
    sock = socket.create_connection(("127.0.0.1", a.port), timeout=a.timeout)
    if a.tls_ca:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_verify_locations(a.tls_ca)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        ctx.set_alpn_protocols(["h2"])
        sock = ctx.wrap_socket(sock, server_hostname="127.0.0.1")
    config = h2.config.H2Configuration(client_side=True, validate_outbound_headers=False,
                                       validate_inbound_headers=False, normalize_inbound_headers=False)
    conn = h2.connection.H2Connection(config=config)
    # Receive any response header block, however large: the proxy is under test, not us.
    conn.local_settings = h2.settings.Settings(client=True, initial_values={
        h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: 1 << 24,
        h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100,
    })
    conn.decoder.max_header_list_size = 1 << 24
    conn.initiate_connection()

    headers = [(":method", a.method)]
    if not a.no_path_scheme:
        headers.append((":scheme", a.scheme))
    headers.append((":authority", a.authority))
    if not a.no_path_scheme:
        headers.append((":path", a.path))
    headers += [pair(x) for x in a.header]
    if a.big_header:
        headers.append(("x-big", ("0123456789abcdef" * (a.big_header // 16 + 1))[:a.big_header]))
    for i in range(a.filler_headers):
        headers.append(("x-filler-%d" % i, "v%d" % i))
    stream = conn.get_next_available_stream_id()
    has_more = a.body is not None or a.trailer
    conn.send_headers(stream, headers, end_stream=not has_more and not a.no_end_stream)
    if a.body is not None:
        conn.send_data(stream, a.body.encode(), end_stream=not a.trailer and not a.no_end_stream)
    if a.trailer:
        conn.send_headers(stream, [pair(x) for x in a.trailer], end_stream=True)
    sock.sendall(conn.data_to_send())

    deadline = start + a.timeout
    done = False
    while not done:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock.settimeout(min(remaining, 1.0))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            result["outcome"] = "eof" if result["outcome"] == "timeout" else result["outcome"]
            break
        if not data:
            if result["outcome"] == "timeout":
                result["outcome"] = "eof"
            break
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            result.update(outcome="client-error", error=repr(e)[:300])
            break
        for e in events:
            if isinstance(e, h2.events.ResponseReceived) and e.stream_id == stream:
                fields = [(n.decode() if isinstance(n, bytes) else n, v.decode() if isinstance(v, bytes) else v) for n, v in e.headers]
                d = dict(fields)
                result["status"] = int(d.get(":status", "0"))
                result["reason"] = d.get("x-causeway-reason")
                result["header_block_bytes"] = sum(len(n) + len(v) for n, v in fields)
                result["headers"] = {n: v[:200] for n, v in fields}
            elif isinstance(e, h2.events.DataReceived) and e.stream_id == stream:
                result["body_len"] += len(e.data)
                conn.acknowledge_received_data(e.flow_controlled_length, stream)
            elif isinstance(e, h2.events.StreamEnded) and e.stream_id == stream:
                result["outcome"] = "response"
                if a.linger > 0:
                    deadline = min(deadline, time.monotonic() + a.linger)
                else:
                    done = True
            elif isinstance(e, h2.events.StreamReset) and e.stream_id == stream:
                if result["outcome"] == "response":
                    result["rst_after_response"] = int(e.error_code)
                else:
                    result.update(outcome="rst", rst_code=int(e.error_code))
                done = True
            elif isinstance(e, h2.events.ConnectionTerminated):
                result.update(goaway_code=int(e.error_code), goaway_name=rawh2.ERROR_NAMES.get(int(e.error_code)))
                if not done:
                    result["outcome"] = "goaway"
                done = True
        out = conn.data_to_send()
        if out:
            try:
                sock.sendall(out)
            except OSError:
                pass
    result["elapsed"] = round(time.monotonic() - start, 3)
    rawh2.emit(result)


if __name__ == "__main__":
    main()
