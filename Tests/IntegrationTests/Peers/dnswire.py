"""DNS wire helpers shared by the DNS test peers (RFC 1035): just enough to build queries
and answers and read headers. No third-party packages."""
import struct

A, AAAA, OPT = 1, 28, 41


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def read_name(msg, off):
    """The name at `off` (pointers followed, at most 64 jumps) and the offset after it."""
    labels, end, jumps = [], None, 0
    while True:
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if end is None:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            jumps += 1
            if jumps > 64:
                raise ValueError("pointer loop")
            continue
        if n == 0:
            return ".".join(labels), (end if end is not None else off + 1)
        labels.append(msg[off + 1:off + 1 + n].decode("latin-1"))
        off += 1 + n


def query(name, qtype=A, qid=0x1234, edns=None, flags=0x0100):
    """A query; `edns` is the OPT payload size, or None for no OPT record."""
    msg = struct.pack(">HHHHHH", qid, flags, 1, 0, 0, 1 if edns else 0)
    msg += encode_name(name) + struct.pack(">HH", qtype, 1)
    if edns:
        msg += b"\0" + struct.pack(">HHIH", OPT, edns, 0, 0)
    return msg


def header(msg):
    """(id, flags, qdcount, ancount, nscount, arcount)."""
    return struct.unpack(">HHHHHH", msg[:12])


def question(msg):
    """(name lowercased, type, class, offset after the question)."""
    name, off = read_name(msg, 12)
    qtype, qclass = struct.unpack(">HH", msg[off:off + 4])
    return name.lower(), qtype, qclass, off + 4


def answer(req, code=0, records=(), tc=False, ttl=60):
    """An answer to `req`: its id and question, `records` as (type, rdata) owned by the
    question (pointer), no OPT record."""
    qid, qflags = header(req)[:2]
    _, _, _, qend = question(req)
    flags = 0x8000 | (qflags & 0x0100) | 0x0080 | code | (0x0200 if tc else 0)
    out = struct.pack(">HHHHHH", qid, flags, 1, len(records), 0, 0) + req[12:qend]
    for rtype, rdata in records:
        out += b"\xc0\x0c" + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata
    return out
