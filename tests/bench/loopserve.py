#!/usr/bin/python3.11
"""Alternates commands between long-lived shells, each timing its own command (tests/bench).

    loopserve.py [--runs N] [--warmup N] NAME=SHELL-COMMAND=>COMMAND ...

SHELL-COMMAND starts a shell loop (e.g. a bash inside a jail built by jail-run); COMMAND is what
that shell runs each round. A word "$LOOP" in SHELL-COMMAND is replaced by the loop, e.g.
    /bin/bash -c $LOOP
The loop reads a command line, runs it with stdin and stdout on /dev/null, and answers
"STATUS T0 T1" (EPOCHREALTIME around it). So the numbers exclude this driver and the way into
the jail: only the command's own fork, exec and run, as seen from inside. Rounds alternate the
names, the order rotating. Prints STAT lines like interleave.py.
"""
import argparse
import shlex
import statistics
import subprocess
import sys

LOOP = ('while IFS= read -r line; do t0=$EPOCHREALTIME; eval "$line" </dev/null >/dev/null 2>&1;'
        ' rc=$?; t1=$EPOCHREALTIME; echo "$rc $t0 $t1"; done')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("pairs", nargs="+")
    a = ap.parse_args()
    names, shells, cmds = [], {}, {}
    for p in a.pairs:
        name, _, rest = p.partition("=")
        shell, sep, cmd = rest.partition("=>")
        if not sep:
            ap.error(f"expected NAME=SHELL=>COMMAND, got {p!r}")
        names.append(name)
        cmds[name] = cmd
        argv = [LOOP if w == "$LOOP" else w for w in shlex.split(shell)]
        shells[name] = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, bufsize=1)
    samples = {n: [] for n in names}
    fails = {n: 0 for n in names}
    for rnd in range(-a.warmup, a.runs):
        k = rnd % len(names)
        for n in names[k:] + names[:k]:
            sh = shells[n]
            sh.stdin.write(cmds[n] + "\n")
            sh.stdin.flush()
            line = sh.stdout.readline().split()
            if len(line) != 3:
                print(f"loopserve: the shell of {n} ended", file=sys.stderr)
                return 1
            rc, t0, t1 = int(line[0]), float(line[1]), float(line[2])
            if rnd < 0:
                continue
            if rc == 0:
                samples[n].append((t1 - t0) * 1000)
            else:
                fails[n] += 1
    for sh in shells.values():
        sh.stdin.close()
        sh.wait()
    for n in names:
        s = sorted(samples[n])
        if s:
            p90 = s[min(len(s) - 1, int(len(s) * 0.9))]
            print(f"STAT\t{n}\t{statistics.median(s):.2f}\t{s[0]:.2f}\t{s[-1]:.2f}\t{len(s)}\t"
                  f"{fails[n]}\t{p90:.2f}\t")
        else:
            print(f"STAT\t{n}\t-\t-\t-\t0\t{fails[n]}\t-\tevery run failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
