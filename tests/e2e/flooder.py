#!/usr/bin/python3.11
"""Hostile clients for tests/e2e/flood.sh: many TCP connections to the server that open and then
say nothing (idle), or drip one byte a second of an SSH banner that never ends (drip).

    flooder.py PORT REPORT --idle N --drip M --sources FIRST[-LAST] [--drip-sources FIRST[-LAST]]
               [--seconds S]

Connections are bound round-robin to the loopback source addresses given (a socket bound to
127.0.0.2 reaches a server listening on 127.0.0.1). Once every connection is open the script
writes "READY <time>" to REPORT.ready; it holds them for S seconds (or until SIGTERM), then
closes them and writes REPORT: one JSON object with a record per connection (kind, source,
whether the server's banner came, the text it sent instead, seconds from connect to the
server's close, or null if it was still open)."""

import argparse
import ipaddress
import json
import select
import signal
import socket
import sys
import time


def sources(spec):
    first, _, last = spec.partition("-")
    a = ipaddress.IPv4Address(first)
    b = ipaddress.IPv4Address(last) if last else a
    return [str(ipaddress.IPv4Address(i)) for i in range(int(a), int(b) + 1)]


def read_ready(conns, timeout):
    """Reads what the server sent; notes when it closed. False when nothing is open."""
    live = [c for c in conns if c["sock"] is not None]
    if not live:
        return False
    r, _, _ = select.select([c["sock"] for c in live], [], [], timeout)
    now = time.monotonic()
    for c in live:
        if c["sock"] not in r:
            continue
        try:
            d = c["sock"].recv(4096)
        except OSError:
            d = b""
        if d:
            c["got"] += d[: 512 - len(c["got"])]
            continue
        c["closed_after"] = round(now - c["t0"], 3)
        c["sock"].close()
        c["sock"] = None
    return True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("report")
    p.add_argument("--idle", type=int, default=0)
    p.add_argument("--drip", type=int, default=0)
    p.add_argument("--sources", required=True)
    p.add_argument("--drip-sources")
    p.add_argument("--seconds", type=float, default=60)
    a = p.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    idle_src = sources(a.sources)
    drip_src = sources(a.drip_sources) if a.drip_sources else idle_src
    conns = []
    plan = [("idle", idle_src[i % len(idle_src)]) for i in range(a.idle)]
    plan += [("drip", drip_src[i % len(drip_src)]) for i in range(a.drip)]
    for kind, src in plan:
        c = {"kind": kind, "source": src, "banner": False, "text": "", "closed_after": None,
             "connect_error": None}
        s = socket.socket()
        try:
            s.bind((src, 0))
            s.settimeout(10)
            s.connect(("127.0.0.1", a.port))
            s.setblocking(False)
        except OSError as e:
            c["connect_error"] = str(e)
            s.close()
            s = None
        c["sock"] = s
        c["t0"] = time.monotonic()
        c["got"] = b""
        conns.append(c)
    with open(a.report + ".ready", "w") as f:
        f.write("READY %.3f\n" % time.time())

    drip = b"SSH-2.0-drip" + b"x" * 200
    start = time.monotonic()
    next_drip = start + 1
    while not stop and time.monotonic() - start < a.seconds:
        if not read_ready(conns, 0.2):
            break
        now = time.monotonic()
        if now >= next_drip:
            next_drip += 1
            for c in conns:
                if c["kind"] != "drip" or c["sock"] is None:
                    continue
                k = c.setdefault("dripped", 0)
                try:
                    c["sock"].send(drip[k % len(drip): k % len(drip) + 1])
                    c["dripped"] = k + 1
                except OSError:
                    pass
    # What the server did before we stopped looking still counts.
    read_ready(conns, 0)
    for c in conns:
        s = c.pop("sock")
        if s is not None:
            s.close()
        got = c.pop("got")
        c.pop("t0")
        c["banner"] = got.startswith(b"SSH-")
        if got and not c["banner"]:
            c["text"] = got.decode(errors="replace").strip()
    with open(a.report, "w") as f:
        json.dump({"connections": conns}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
