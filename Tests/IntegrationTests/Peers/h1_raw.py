"""A raw HTTP/1.x client for what curl will not send: pipelined requests in one write,
smuggling attempts, half heads, a client that never reads.

    h1_raw.py --port P --send TEXT [--send TEXT ...] [--shut] [--timeout S] [--no-read S]

Each --send is one write; TEXT takes Python escapes (\\r\\n, \\x00) and may repeat a part
with {N*...} e.g. "x-big: {70000*a}\\r\\n". --shut half-closes after sending. Then the
client reads until EOF or --timeout seconds of silence (default 5), or, with --no-read S,
does not read at all for S seconds. Prints one JSON line:
{"response": text (latin-1), "closed": EOF seen, "reset": connection reset,
 "timed_out": silence ended the read, "elapsed": seconds from the last write to the end}.
"""
import argparse
import json
import re
import socket
import time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--send", action="append", default=[])
ap.add_argument("--shut", action="store_true")
ap.add_argument("--timeout", type=float, default=5.0)
ap.add_argument("--no-read", type=float, default=0.0)
args = ap.parse_args()


def expand(text):
    text = re.sub(r"\{(\d+)\*([^}]*)\}", lambda m: m.group(2) * int(m.group(1)), text)
    return text.encode("latin-1").decode("unicode_escape").encode("latin-1")


s = socket.create_connection(("127.0.0.1", args.port))
for part in args.send:
    s.sendall(expand(part))
if args.shut:
    s.shutdown(socket.SHUT_WR)
start = time.monotonic()
result = {"response": "", "closed": False, "reset": False, "timed_out": False}
if args.no_read > 0:
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
