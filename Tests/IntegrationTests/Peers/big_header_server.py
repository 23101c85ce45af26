#!/usr/bin/env python3
"""An h2c server whose every response carries a huge header block: --fields fields of
--field-bytes bytes each (random hex, so HPACK cannot shrink it much), then a short body.

Prints {"listening": PORT} once bound, then serves until killed."""
import argparse
import os
import socket
import threading

import h2.config
import h2.connection
import h2.events

import rawh2


def serve(sock, fields, size):
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False, validate_outbound_headers=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    while True:
        try:
            data = sock.recv(65536)
        except OSError:
            return
        if not data:
            return
        for e in conn.receive_data(data):
            if isinstance(e, h2.events.RequestReceived):
                headers = [(":status", "200")] + [("x-huge-%d" % i, os.urandom(size // 2).hex()) for i in range(fields)]
                conn.send_headers(e.stream_id, headers)
                conn.send_data(e.stream_id, b"huge headers\n", end_stream=True)
        out = conn.data_to_send()
        if out:
            try:
                sock.sendall(out)
            except OSError:
                return


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--fields", type=int, default=25)
    p.add_argument("--field-bytes", type=int, default=4096)
    a = p.parse_args()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", a.port))
    listener.listen(16)
    rawh2.emit({"listening": listener.getsockname()[1]})
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=serve, args=(sock, a.fields, a.field_bytes), daemon=True).start()


if __name__ == "__main__":
    main()
