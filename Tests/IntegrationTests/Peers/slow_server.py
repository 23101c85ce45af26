#!/usr/bin/env python3
"""An h2c server (the `h2` package, asyncio) that answers every request after --delay
seconds with --status and the body --body, on as many concurrent streams and connections as
it is sent. A stream the client resets while it waits is forgotten.

Prints {"listening": PORT} once bound, then {"request": N, "path": P} as each request
arrives (N counts requests since start), and serves until killed."""
import argparse
import asyncio
import json
import sys

import h2.config
import h2.connection
import h2.events
import h2.exceptions


def emit(result):
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    sys.stdout.flush()


class Server:
    def __init__(self, delay, status, body):
        self.delay = delay
        self.status = status
        self.body = body.encode()
        self.requests = 0


class Connection(asyncio.Protocol):
    def __init__(self, server):
        self.server = server
        self.conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
        self.transport = None
        self.open_streams = set()

    def connection_made(self, transport):
        self.transport = transport
        self.conn.initiate_connection()
        self.flush()

    def connection_lost(self, exc):
        self.transport = None
        self.open_streams.clear()

    def flush(self):
        if self.transport is None:
            return
        out = self.conn.data_to_send()
        if out:
            self.transport.write(out)

    def data_received(self, data):
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.flush()
            if self.transport is not None:
                self.transport.close()
            return
        loop = asyncio.get_running_loop()
        for e in events:
            if isinstance(e, h2.events.RequestReceived):
                self.server.requests += 1
                path = dict((k.decode() if isinstance(k, bytes) else k, v.decode() if isinstance(v, bytes) else v)
                            for k, v in e.headers).get(":path", "")
                emit({"request": self.server.requests, "path": path})
                self.open_streams.add(e.stream_id)
                if self.server.delay > 0:
                    loop.call_later(self.server.delay, self.respond, e.stream_id)
                else:
                    self.respond(e.stream_id)
            elif isinstance(e, h2.events.DataReceived):
                self.conn.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
            elif isinstance(e, h2.events.StreamReset):
                self.open_streams.discard(e.stream_id)
        self.flush()

    def respond(self, stream_id):
        if self.transport is None or stream_id not in self.open_streams:
            return
        self.open_streams.discard(stream_id)
        try:
            self.conn.send_headers(stream_id, [(":status", str(self.server.status)), ("content-length", str(len(self.server.body)))])
            self.conn.send_data(stream_id, self.server.body, end_stream=True)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, h2.exceptions.FlowControlError):
            return
        self.flush()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--delay", type=float, default=1.0, help="seconds before each response")
    p.add_argument("--status", type=int, default=200)
    p.add_argument("--body", default="slow\n")
    a = p.parse_args()
    server = Server(a.delay, a.status, a.body)
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(lambda: Connection(server), "127.0.0.1", a.port, reuse_address=True)
    emit({"listening": listener.sockets[0].getsockname()[1]})
    async with listener:
        await listener.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
