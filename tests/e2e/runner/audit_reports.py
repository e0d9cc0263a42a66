"""Finds the runner-report audit records of one ssh command (tests/e2e/runner_*.sh).

usage: audit_reports.py AUDIT-FILE USER COMMAND EVENT [ACTION]

The session is the one whose exec record carries exactly COMMAND for USER; the runner-report
records of that session must include one whose report (the runner's JSON line) names EVENT with
ACTION (default deny). Waits up to 5 s for the records. Prints "ok SESSION REPORT-MESSAGE" and
exits 0, or prints what it found and exits 1.
"""
import json
import sys
import time


def load(path):
    recs = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    recs.append(json.loads(line))
    except FileNotFoundError:
        pass
    return recs


def main():
    path, user, command, event = sys.argv[1:5]
    action = sys.argv[5] if len(sys.argv) > 5 else "deny"
    deadline = time.monotonic() + 5
    while True:
        recs = load(path)
        sessions = {r["fields"].get("SANDBOX_SESSION") for r in recs
                    if r.get("event") == "exec" and r["fields"].get("SANDBOX_USER") == user
                    and r["fields"].get("SANDBOX_COMMAND") == command}
        found = []
        for r in recs:
            f = r.get("fields", {})
            if r.get("event") != "runner-report" or f.get("SANDBOX_SESSION") not in sessions:
                continue
            try:
                rep = json.loads(f.get("SANDBOX_REPORT", ""))
            except ValueError:
                rep = {}
            found.append((f, rep))
            if (f.get("SANDBOX_USER") == user and f.get("SANDBOX_UNTRUSTED") == "1"
                    and rep.get("event") == event and rep.get("action") == action
                    and rep.get("source") == "sandbox-python"
                    and rep.get("trust") == "untrusted"):
                print("ok", f["SANDBOX_SESSION"], rep.get("message", ""))
                return 0
        if time.monotonic() > deadline:
            print(f"no runner-report {event}/{action} for user {user}; sessions {sorted(sessions)};"
                  f" reports there: {[rep for _, rep in found]}")
            return 1
        time.sleep(0.1)


sys.exit(main())
