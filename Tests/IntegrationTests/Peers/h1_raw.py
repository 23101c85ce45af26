"""A raw HTTP/1.x client for what curl will not send: pipelined requests in one write,
smuggling attempts, half heads, a client that never reads.

    h1_raw.py --port P --send TEXT [--send TEXT ...] [--upload N --upload-seconds S]
              [--flood S] [--shut] [--timeout S] [--no-read S]

Each --send is one write; TEXT takes Python escapes (\\r\\n, \\x00) and may repeat a part
with {N*...} e.g. "x-big: {70000*a}\\r\\n". --upload then sends N body bytes: as many as the
socket takes in --upload-seconds (reported as "uploaded_in_time"), then the rest, blocking.
--flood S then sends body bytes ("x") as fast as the socket takes them, reading what comes
back meanwhile (up to EOF: "closed"), until sending fails because the server closed the
connection ("reset") or S seconds pass ("timed_out"); reported as "flood_sent" bytes (the
read below is skipped).
--shut half-closes after sending. Then the
client reads until EOF or --timeout seconds of silence (default 5), or, with --no-read S,
does not read at all for S seconds. Prints one JSON line:
{"response": text (latin-1), "closed": EOF seen, "reset": connection reset,
 "timed_out": silence ended the read, "elapsed": seconds from the last write to the end,
 "uploaded_in_time": with --upload}.
"""
import argparse
import json
import re
import select
import socket
import time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--send", action="append", default=[])
ap.add_argument("--shut", action="store_true")
ap.add_argument("--timeout", type=float, default=5.0)
ap.add_argument("--no-read", type=float, default=0.0)
ap.add_argument("--upload", type=int, default=0)
ap.add_argument("--upload-seconds", type=float, default=2.0)
ap.add_argument("--flood", type=float, default=0.0)
args = ap.parse_args()


def expand(text):
    text = re.sub(r"\{(\d+)\*([^}]*)\}", lambda m: m.group(2) * int(m.group(1)), text)
    return text.encode("latin-1").decode("unicode_escape").encode("latin-1")


s = socket.create_connection(("127.0.0.1", args.port))
for part in args.send:
    s.sendall(expand(part))
result = {}
if args.upload > 0:
    block = bytes(range(256)) * 256
    sent = 0
    s.setblocking(False)
    deadline = time.monotonic() + args.upload_seconds
    while sent < args.upload and time.monotonic() < deadline:
        try:
            sent += s.send(block[:min(len(block), args.upload - sent)])
        except BlockingIOError:
            time.sleep(0.01)
    result["uploaded_in_time"] = sent
    s.setblocking(True)
    while sent < args.upload:
        sent += s.send(block[:min(len(block), args.upload - sent)])
if args.shut:
    s.shutdown(socket.SHUT_WR)
start = time.monotonic()
result.update({"response": "", "closed": False, "reset": False, "timed_out": False})
if args.flood > 0:
    block = b"x" * 65536
    data = b""
    sent = 0
    s.setblocking(False)
    deadline = time.monotonic() + args.flood
    result["timed_out"] = True
    while time.monotonic() < deadline:
        readable, writable, _ = select.select([] if result["closed"] else [s], [s], [], 0.1)
        try:
            if readable:
                chunk = s.recv(65536)
                if not chunk:
                    result["closed"] = True
                data += chunk
            if writable:
                sent += s.send(block)
        except BlockingIOError:
            pass
        except (ConnectionResetError, BrokenPipeError):
            result["reset"] = True
            result["timed_out"] = False
            break
    result["flood_sent"] = sent
    result["response"] = data.decode("latin-1")
elif args.no_read > 0:
    time.sleep(args.no_read)
else:
    s.settimeout(args.timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                result["closed"] = True
                break
            data += chunk
    except socket.timeout:
        result["timed_out"] = True
    except ConnectionResetError:
        result["reset"] = True
    result["response"] = data.decode("latin-1")
result["elapsed"] = time.monotonic() - start
print(json.dumps(result), flush=True)
