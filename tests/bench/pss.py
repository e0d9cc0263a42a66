#!/usr/bin/python3.11
"""pss.py PID [PAYLOAD-COMM...]: the memory of PID's descendants (tests/bench).

Sums Pss and Rss (kB, /proc/N/smaps_rollup) over every descendant of PID (not PID itself), split
into the processes whose comm is one of PAYLOAD-COMM and the others, and counts the direct
children (one per connection for a listener). Prints one line:
    children=N server_procs=N server_pss=KB server_rss=KB payload_procs=N payload_pss=KB payload_rss=KB
"""
import os
import sys


def main():
    root = int(sys.argv[1])
    payload = set(sys.argv[2:])
    children = {}
    comm = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rindex(")") + 2:].split()
        children.setdefault(int(rest[1]), []).append(int(d))
        comm[int(d)] = s[s.index("(") + 1:s.rindex(")")]
    tot = {"server": [0, 0, 0], "payload": [0, 0, 0]}
    stack = list(children.get(root, []))
    while stack:
        p = stack.pop()
        stack.extend(children.get(p, []))
        pss = rss = 0
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss = int(line.split()[1])
                    elif line.startswith("Rss:"):
                        rss = int(line.split()[1])
        except OSError:
            continue
        t = tot["payload" if comm.get(p) in payload else "server"]
        t[0] += 1
        t[1] += pss
        t[2] += rss
    print(f"children={len(children.get(root, []))} server_procs={tot['server'][0]} "
          f"server_pss={tot['server'][1]} server_rss={tot['server'][2]} "
          f"payload_procs={tot['payload'][0]} payload_pss={tot['payload'][1]} "
          f"payload_rss={tot['payload'][2]}")


if __name__ == "__main__":
    main()
