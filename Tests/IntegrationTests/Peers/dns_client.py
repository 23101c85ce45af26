#!/usr/bin/env python3
"""Raw DNS clients for the DNS tests, against 127.0.0.1:--port.

  malformed  sends messages a DNS server must drop (random bytes from a fixed seed, cut
             headers, compression loops, a pointer past the end, a response, trailing
             bytes, a reserved label type, an empty datagram, 4,097 zero bytes) over UDP,
             and a loop then a good query over TCP, and waits for answers. Prints
             {"sent": N, "answers": N (over UDP), "tcp_answer_id": id of the TCP answer}.
  pipeline   sends --count queries for --name over one TCP connection in one write and
             reads the answers. Prints {"sent", "answered", "ids_match": bool, "rcodes"}.
  flood      sends --count queries for --name over UDP (at most 64 waiting at once),
             without EDNS unless --edns SIZE, and reads the answers. Prints {"sent",
             "received", "max_size", "max_query", "truncated", "rcodes": {code: n},
             "answers_total"}.
  trickle    opens --count TCP connections and on each sends a query for --name one byte
             every --interval seconds (its length prefix first), never finishing it within
             --duration seconds. Notes when the server closes each, then, with those it
             did not close still open, asks --name over a fresh connection. Prints
             {"opened", "closed": N closed by the server, "first_closed_after",
             "last_closed_after": seconds, "fresh_answered": bool}.
  stalled    opens one TCP connection with a small receive buffer, sends --count queries
             for --name without reading any answer (until the server stops taking them),
             waits --duration seconds, then reads. Prints {"sent", "answers_read",
             "closed_by_server": bool (end of stream or reset after what was buffered)}."""
import argparse
import json
import random
import socket
import struct
import time

import dnswire as w


def malformed(port):
    rng = random.Random(1234)
    msgs = []
    for _ in range(20):
        msgs.append(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 60))))
    good = w.query("webapp.production.svc.cluster.local")
    msgs += [good[:n] for n in (0, 1, 5, 11)]                 # cut headers
    msgs.append(good[:20])                                   # cut question
    msgs.append(struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01")  # loop
    msgs.append(struct.pack(">HHHHHH", 8, 0x0100, 1, 0, 0, 0) + b"\xc0\x20\x00\x01\x00\x01")  # pointer past the end
    msgs.append(struct.pack(">HHHHHH", 9, 0x0100, 1, 0, 0, 0) + b"\x01a\xc0\x0c\x00\x01\x00\x01")  # label then loop
    msgs.append(struct.pack(">HHHHHH", 10, 0x8180, 1, 0, 0, 0) + w.encode_name("x.test") + b"\0\1\0\1")  # a response
    msgs.append(good + b"\0\0\0")                            # trailing bytes
    msgs.append(struct.pack(">HHHHHH", 11, 0x0100, 2, 0, 0, 0) + w.encode_name("a.b") + b"\0\1\0\1")  # two questions announced
    msgs.append(good[:12] + b"\x41" + b"a" * 65 + b"\0\0\1\0\1")  # reserved label type
    msgs.append(b"\0" * 4097)                                # larger than the server reads
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.settimeout(0.5)
    sent = 0
    for m in msgs:
        if not m:
            continue  # an empty datagram is sent too, separately below
        udp.sendto(m, ("127.0.0.1", port))
        sent += 1
    udp.sendto(b"", ("127.0.0.1", port))
    sent += 1
    answers = 0
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        try:
            udp.recvfrom(65535)
            answers += 1
        except socket.timeout:
            break
    # Over TCP: one loop message; the connection stays usable for a good query after it.
    t = socket.create_connection(("127.0.0.1", port), timeout=3)
    loop = struct.pack(">HHHHHH", 12, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01"
    t.sendall(struct.pack(">H", len(loop)) + loop)
    sent += 1
    q = w.query("webapp.production.svc.cluster.local", qid=0x7777)
    t.sendall(struct.pack(">H", len(q)) + q)
    data = b""
    while len(data) < 2 or len(data) < 2 + struct.unpack(">H", data[:2])[0]:
        chunk = t.recv(65535)
        if not chunk:
            break
        data += chunk
    tcp_answer_id = w.header(data[2:])[0] if len(data) >= 14 else None
    t.close()
    return {"sent": sent, "answers": answers, "tcp_answer_id": tcp_answer_id}


def flood(port, name, count, edns, qtype):
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setblocking(False)
    result = {"sent": 0, "received": 0, "max_size": 0, "max_query": 0, "truncated": 0, "rcodes": {}, "answers_total": 0}
    waiting = 0
    deadline = time.monotonic() + 30
    next_id = 1
    while (result["sent"] < count or waiting > 0) and time.monotonic() < deadline:
        while result["sent"] < count and waiting < 64:
            q = w.query(name, qtype=qtype, qid=next_id & 0xFFFF, edns=edns)
            next_id += 1
            result["max_query"] = max(result["max_query"], len(q))
            try:
                udp.sendto(q, ("127.0.0.1", port))
            except BlockingIOError:
                break
            result["sent"] += 1
            waiting += 1
        end = time.monotonic() + (0.05 if result["sent"] < count else 2.0)
        got_any = False
        while time.monotonic() < end:
            try:
                msg, _ = udp.recvfrom(65535)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            got_any = True
            waiting -= 1
            result["received"] += 1
            result["max_size"] = max(result["max_size"], len(msg))
            _, flags, _, an, _, _ = w.header(msg)
            if flags & 0x0200:
                result["truncated"] += 1
            code = str(flags & 0xF)
            result["rcodes"][code] = result["rcodes"].get(code, 0) + 1
            result["answers_total"] += an
            if waiting == 0 and result["sent"] < count:
                break
        if not got_any and result["sent"] >= count:
            break  # the rest is lost
    return result


def pipeline(port, name, count):
    t = socket.create_connection(("127.0.0.1", port), timeout=30)
    ids = list(range(1, count + 1))
    t.sendall(b"".join(struct.pack(">H", len(q)) + q for q in (w.query(name, qid=i) for i in ids)))
    data, answers = b"", []
    while len(answers) < count:
        while len(data) >= 2 and len(data) >= 2 + struct.unpack(">H", data[:2])[0]:
            n = struct.unpack(">H", data[:2])[0]
            answers.append(data[2:2 + n])
            data = data[2 + n:]
        if len(answers) >= count:
            break
        try:
            chunk = t.recv(65535)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    t.close()
    rcodes = {}
    for a in answers:
        code = str(w.header(a)[1] & 0xF)
        rcodes[code] = rcodes.get(code, 0) + 1
    return {"sent": count, "answered": len(answers), "ids_match": sorted(w.header(a)[0] for a in answers) == ids, "rcodes": rcodes}


def trickle(port, name, count, interval, duration):
    body = w.query(name, qid=0x4242)
    # One byte per interval: dozens of bytes are never finished within the duration.
    msg = struct.pack(">H", len(body)) + body
    start = time.monotonic()
    conns = []
    for _ in range(count):
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        c.setblocking(False)
        conns.append({"sock": c, "sent": 0, "closed_at": None})
    next_send = start
    while time.monotonic() - start < duration:
        now = time.monotonic()
        if now >= next_send:
            for c in conns:
                if c["closed_at"] is None and c["sent"] < len(msg) - 1:
                    try:
                        c["sock"].send(msg[c["sent"]:c["sent"] + 1])
                        c["sent"] += 1
                    except OSError:
                        c["closed_at"] = now - start
            next_send += interval
        for c in conns:
            if c["closed_at"] is not None:
                continue
            try:
                data = c["sock"].recv(65535)
                if not data:
                    c["closed_at"] = time.monotonic() - start
            except BlockingIOError:
                pass
            except OSError:
                c["closed_at"] = time.monotonic() - start
        if all(c["closed_at"] is not None for c in conns):
            break
        time.sleep(0.05)
    closed = [c["closed_at"] for c in conns if c["closed_at"] is not None]
    # Asked while the trickling connections the server did not close are still open.
    fresh = False
    try:
        t = socket.create_connection(("127.0.0.1", port), timeout=5)
        t.sendall(msg)
        data = b""
        while len(data) < 2 or len(data) < 2 + struct.unpack(">H", data[:2])[0]:
            chunk = t.recv(65535)
            if not chunk:
                break
            data += chunk
        fresh = len(data) >= 14 and w.header(data[2:])[0] == 0x4242
        t.close()
    except OSError:
        pass
    for c in conns:
        c["sock"].close()
    return {"opened": len(conns), "closed": len(closed), "first_closed_after": min(closed) if closed else None,
            "last_closed_after": max(closed) if closed else None, "fresh_answered": fresh}


def stalled(port, name, count, duration):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    data = b"".join(struct.pack(">H", len(q)) + q for q in (w.query(name, qid=i & 0xFFFF) for i in range(count)))
    sent, blocked_since = 0, None
    start = time.monotonic()
    while sent < len(data) and time.monotonic() - start < duration / 2:
        try:
            sent += s.send(data[sent:sent + 65536])
            blocked_since = None
        except BlockingIOError:
            blocked_since = blocked_since or time.monotonic()
            if time.monotonic() - blocked_since > 1.0:
                break
            time.sleep(0.01)
    time.sleep(max(0.0, duration - (time.monotonic() - start)))
    s.settimeout(2.0)
    buf, closed = b"", False
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            buf += chunk
    except socket.timeout:
        pass
    except OSError:
        closed = True
    s.close()
    answers = 0
    while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
        buf = buf[2 + struct.unpack(">H", buf[:2])[0]:]
        answers += 1
    return {"sent": sent // (len(data) // count), "answers_read": answers, "closed_by_server": closed}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["malformed", "flood", "pipeline", "trickle", "stalled"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--name", default="webapp.production.svc.cluster.local")
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--edns", type=int, default=None)
    p.add_argument("--type", type=int, default=w.A)
    p.add_argument("--interval", type=float, default=2.0)
    p.add_argument("--duration", type=float, default=16.0)
    a = p.parse_args()
    if a.mode == "malformed":
        print(json.dumps(malformed(a.port)), flush=True)
    elif a.mode == "stalled":
        print(json.dumps(stalled(a.port, a.name, a.count, a.duration)), flush=True)
    elif a.mode == "trickle":
        print(json.dumps(trickle(a.port, a.name, a.count, a.interval, a.duration)), flush=True)
    elif a.mode == "pipeline":
        print(json.dumps(pipeline(a.port, a.name, a.count)), flush=True)
    else:
        print(json.dumps(flood(a.port, a.name, a.count, a.edns, a.type)), flush=True)


if __name__ == "__main__":
    main()
