"""Raw HTTP/2 frames over a plain socket, for peers that must send what no well-behaved
client sends (hand-built header blocks, bad prefaces, frame floods). Shared by the
scripts in this folder; each script prints one JSON line as its result."""
import json
import socket
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20

ERROR_NAMES = {
    0x0: "NO_ERROR", 0x1: "PROTOCOL_ERROR", 0x2: "INTERNAL_ERROR", 0x3: "FLOW_CONTROL_ERROR",
    0x4: "SETTINGS_TIMEOUT", 0x5: "STREAM_CLOSED", 0x6: "FRAME_SIZE_ERROR", 0x7: "REFUSED_STREAM",
    0x8: "CANCEL", 0x9: "COMPRESSION_ERROR", 0xa: "CONNECT_ERROR", 0xb: "ENHANCE_YOUR_CALM",
    0xc: "INADEQUATE_SECURITY", 0xd: "HTTP_1_1_REQUIRED",
}


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream & 0x7FFFFFFF) + payload


def settings(pairs=()):
    return frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def hpack_int(value, prefix_bits, first_byte_flags=0):
    """RFC 7541 §5.1 integer with an N-bit prefix."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte_flags | value])
    out = [first_byte_flags | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_string(data):
    """A string literal without Huffman coding."""
    if isinstance(data, str):
        data = data.encode()
    return hpack_int(len(data), 7) + data


def literal_without_indexing(name, value):
    return b"\x00" + hpack_string(name) + hpack_string(value)


def literal_with_indexing(name, value):
    return b"\x40" + hpack_string(name) + hpack_string(value)


def simple_request_block(authority, path="/", method="GET"):
    """A request header block that touches no dynamic table: static :method/:scheme plus
    literals without indexing."""
    block = b""
    block += b"\x82" if method == "GET" else literal_without_indexing(":method", method)
    block += b"\x86"  # :scheme http
    block += b"\x84" if path == "/" else b"\x04" + hpack_string(path)  # :path (name index 4)
    block += b"\x01" + hpack_string(authority)  # :authority (name index 1)
    return block


def connect(port, timeout=10.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class FrameReader:
    """Reads whole frames from a socket; `next(deadline)` returns (type, flags, stream,
    payload), or None on EOF, "reset" on ECONNRESET, "timeout" at the deadline."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def next(self, deadline):
        while True:
            if len(self.buf) >= 9:
                length = int.from_bytes(self.buf[0:3], "big")
                if len(self.buf) >= 9 + length:
                    ftype, flags = self.buf[3], self.buf[4]
                    stream = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
                    payload = self.buf[9:9 + length]
                    self.buf = self.buf[9 + length:]
                    return ftype, flags, stream, payload
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            self.sock.settimeout(min(remaining, 1.0))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return "reset"
            except OSError:
                return "reset"
            if not chunk:
                return None
            self.buf += chunk


def goaway_fields(payload):
    last = int.from_bytes(payload[0:4], "big") & 0x7FFFFFFF
    code = int.from_bytes(payload[4:8], "big")
    return last, code, payload[8:].decode("utf-8", "replace")


def decode_headers(decoder, payload, flags):
    """Strips padding and priority from a HEADERS payload and decodes it with an hpack
    Decoder (a fresh one per connection)."""
    if flags & PADDED:
        pad = payload[0]
        payload = payload[1:len(payload) - pad]
    if flags & PRIORITY_FLAG:
        payload = payload[5:]
    return [(n.decode() if isinstance(n, bytes) else n, v.decode() if isinstance(v, bytes) else v)
            for n, v in decoder.decode(payload, raw=True)]


def emit(result):
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    sys.stdout.flush()
