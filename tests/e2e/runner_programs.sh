#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Ordinary student programs run unchanged in the real jail, through the real server and client:
# threads, asyncio, sqlite3 on a file in the home, json/csv, unittest, a package of several
# modules next to the script, stdin, 10 MB of output, exit statuses, separate stdout/stderr,
# `run FILE ARGS`, `python -`, and the verbs quota, help and an unknown one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/runner/helpers.sh"
e2e_init
make_user
start_server AuditFile "$T/audit.jsonl" AuditJournal no
H=$(user_home "$U")

# Threads: a pool and plain threads sharing a lock.
py 'import threading, concurrent.futures as cf
with cf.ThreadPoolExecutor(max_workers=8) as ex:
    squares = list(ex.map(lambda i: i * i, range(100)))
total = 0
lock = threading.Lock()
def add(n):
    global total
    for _ in range(n):
        with lock:
            total += 1
ts = [threading.Thread(target=add, args=(1000,)) for _ in range(8)]
[t.start() for t in ts]
[t.join() for t in ts]
print(sum(squares), total, threading.active_count())'
assert_rc 0 "threads"
assert_eq "$OUT" "328350 8000 1" "threads: a pool and eight threads with a lock give the right sums"

# asyncio: tasks, a queue, sleep, gather, a timeout.
py 'import asyncio
async def producer(q):
    for i in range(5):
        await q.put(i)
        await asyncio.sleep(0.01)
    await q.put(None)
async def consumer(q, out):
    while (item := await q.get()) is not None:
        out.append(item * 10)
async def slow():
    await asyncio.sleep(5)
async def main():
    q, out = asyncio.Queue(), []
    await asyncio.gather(producer(q), consumer(q, out))
    try:
        await asyncio.wait_for(slow(), 0.05)
    except asyncio.TimeoutError:
        out.append("timeout")
    return out
print(asyncio.run(main()))'
assert_rc 0 "asyncio"
assert_eq "$OUT" "[0, 10, 20, 30, 40, 'timeout']" "asyncio: gather, a queue and wait_for work"

# sqlite3 on a file in the home, kept across logins.
py 'import sqlite3
db = sqlite3.connect("grades.db")
db.execute("create table g (name text, score int)")
db.executemany("insert into g values (?, ?)", [("ann", 90), ("bob", 75), ("cy", 82)])
db.commit()
db.close()
print("written")'
assert_eq "$OUT" "written" "sqlite3: a database file is created in the home"
py 'import sqlite3
db = sqlite3.connect("grades.db")
print(db.execute("select count(*), max(score), round(avg(score), 2) from g").fetchone())
with db:
    db.execute("update g set score = score + 1 where name = ?", ("bob",))
print(db.execute("select score from g where name = ?", ("bob",)).fetchone()[0])'
assert_eq "$OUT" "$(printf '(3, 90, 82.33)\n76')" "sqlite3: the next login reads and updates the file"
assert_eq "$(stat -c %U "$H/grades.db" 2>&1)" "$U" "sqlite3: the file is the user's, in the real home"
assert_eq "$("$PY" -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select score from g where name = \"bob\"").fetchone()[0])' "$H/grades.db" 2>&1)" \
	"76" "sqlite3: the host sees the committed update"

# json and csv, written in the home and read back, also on the host.
py 'import csv, json
rows = [{"name": "ann", "score": 90}, {"name": "bob, jr.", "score": 75}]
with open("data.json", "w") as f:
    json.dump({"rows": rows, "unicode": "h\u00e9llo \u2713"}, f, ensure_ascii=False)
with open("data.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=["name", "score"])
    w.writeheader()
    w.writerows(rows)
back = json.load(open("data.json"))
print(back["rows"] == rows, back["unicode"])
print([r["name"] for r in csv.DictReader(open("data.csv", newline=""))])'
assert_rc 0 "json/csv"
assert_eq "$OUT" "$(printf "True h\xc3\xa9llo \xe2\x9c\x93\n['ann', 'bob, jr.']")" \
	"json/csv: written and read back, UTF-8 intact"
assert_eq "$("$PY" -c 'import csv, json, sys
print(json.load(open(sys.argv[1] + "/data.json"))["rows"][1]["name"], list(csv.reader(open(sys.argv[1] + "/data.csv")))[2])' "$H" 2>&1)" \
	"bob, jr. ['bob, jr.', '75']" "json/csv: the host reads the same files"

# A multi-file assignment: a package and a module next to the script, uploaded with scp -r.
mkdir -p "$T/up/hw/shapes"
cat >"$T/up/hw/main.py" <<'PYEOF'
import sys
import util
from shapes import area
from shapes.circle import Circle
print("argv", sys.argv[1:], "area", area(Circle(int(sys.argv[1]))), "twice", util.twice(21))
print("path0", sys.path[0].endswith("/hw"))
PYEOF
printf 'def area(s):\n    return s.area()\n' >"$T/up/hw/shapes/__init__.py"
printf 'class Circle:\n    def __init__(self, r):\n        self.r = r\n    def area(self):\n        return 3 * self.r * self.r\n' >"$T/up/hw/shapes/circle.py"
printf 'def twice(x):\n    return x * 2\n' >"$T/up/hw/util.py"
upload "$T/up/hw" hw
assert_eq "$RC" 0 "package: uploaded with scp -r"
ssh_pw "$U" "$PW" run hw/main.py 2
assert_rc 0 "package: run hw/main.py 2"
assert_eq "$OUT" "$(printf "argv ['2'] area 12 twice 42\npath0 True")" \
	"package: modules and a package next to the script import, argv passed"
assert_eq "$(find "$H/hw" -name __pycache__ | wc -l)" 0 "package: no bytecode written in the home"

# unittest: a test module and the module it tests, uploaded; run with -m unittest.
mkdir -p "$T/up/ut"
printf 'def add(a, b):\n    return a + b\n' >"$T/up/ut/calc.py"
cat >"$T/up/ut/test_calc.py" <<'PYEOF'
import unittest
import calc

class TestCalc(unittest.TestCase):
    def test_add(self):
        self.assertEqual(calc.add(2, 3), 5)

    def test_negative(self):
        self.assertEqual(calc.add(-2, -3), -5)

    @unittest.skip("not yet")
    def test_later(self):
        pass

if __name__ == "__main__":
    unittest.main()
PYEOF
cat >"$T/up/ut/test_bad.py" <<'PYEOF'
import unittest
import calc

class TestBad(unittest.TestCase):
    def test_wrong(self):
        self.assertEqual(calc.add(2, 2), 5)
PYEOF
upload "$T/up/ut" ut
assert_eq "$RC" 0 "unittest: test files uploaded"
ssh_pw "$U" "$PW" run ut/test_calc.py -v
assert_rc 0 "unittest: run ut/test_calc.py -v"
assert_contains "$ERR" "test_add (__main__.TestCalc.test_add) ... ok" "unittest: a test passes (run FILE)"
assert_contains "$ERR" "Ran 3 tests in " "unittest: three tests ran (run FILE)"
assert_eq "$(printf '%s' "$ERR" | tail -n 1)" "OK (skipped=1)" "unittest: summary line (run FILE)"
ssh_pw "$U" "$PW" "cd ut 2>/dev/null; python3 -m unittest -v test_calc"
# The runner is not a shell: `cd` is an unknown verb. -m takes the module from the home.
assert_rc 127 "a shell command line (cd ...; ...) is not run"
ssh_pw "$U" "$PW" python3 -m unittest discover -v -s ut
assert_eq "$RC$(printf '%s' "$ERR" | grep -c 'FAILED (failures=1, skipped=1)')" "11" \
	"unittest: discover runs both modules; the failing test makes the status 1"
assert_contains "$ERR" "AssertionError: 4 != 5" "unittest: the failure is reported"

# stdin: data piped into a program, and input().
printf 'hello data\nsecond line\n' >"$T/stdin.txt"
ssh_stdin "$T/stdin.txt" "python3 -c 'import sys; d = sys.stdin.read(); print(len(d), d.upper(), end=\"\")'"
assert_rc 0 "stdin: piped data"
assert_eq "$OUT" "$(printf '23 HELLO DATA\nSECOND LINE')" "stdin: the program reads what was piped in"
printf 'name = input("name? ")\nage = int(input("age? "))\nprint(f"{name} is {age + 1} next year")\n' >"$T/up/ask.py"
upload "$T/up/ask.py" ask.py
printf 'Ada\n36\n' >"$T/stdin2.txt"
ssh_stdin "$T/stdin2.txt" run ask.py
assert_eq "$OUT" "name? age? Ada is 37 next year" "stdin: input() reads lines"
# python - : the program itself comes from stdin.
printf 'import sys\nprint("from stdin", sys.argv, sum(range(10)))\nsys.exit(4)\n' >"$T/prog.py"
ssh_stdin "$T/prog.py" python - a b
assert_eq "$OUT" "from stdin ['-', 'a', 'b'] 45" "python -: the program is read from stdin"
assert_rc 4 "python -: its exit status comes back"

# 10 MiB of binary output arrives intact.
# (Run here rather than with ssh_pw: the output holds NUL bytes, which a shell variable cannot.)
build_ssh sshpass -p "$PW" --- "$U" -o PreferredAuthentications=password \
	-o PubkeyAuthentication=no --- "python3 -c 'import sys, hashlib; b = bytes(range(256)) * 40960; sys.stdout.buffer.write(b); sys.stderr.write(hashlib.sha256(b).hexdigest())'"
timeout -k 5 "$E2E_SSH_TIMEOUT" "${ARGV[@]}" >"$T/ssh.out" 2>"$T/ssh.err"
RC=$?
OUT="(10 MiB in $T/ssh.out)"
ERR=$(cat "$T/ssh.err")
assert_rc 0 "large output"
assert_eq "$(stat -c %s "$T/ssh.out")" 10485760 "large output: 10 MiB of stdout arrived"
EXPECT=$("$PY" -c 'import sys, hashlib; print(hashlib.sha256(bytes(range(256)) * 40960).hexdigest())')
assert_eq "$(sha256sum <"$T/ssh.out" | cut -d' ' -f1)" "$EXPECT" "large output: sha256 matches"
assert_eq "$ERR" "$EXPECT" "large output: stderr separate and intact"

# Exit statuses.
for case in "import sys; sys.exit(3)|3" "raise SystemExit(0)|0" "import os; os._exit(42)|42" \
	"import sys; sys.exit(\"bye\")|1" "1/0|1" "print(1)|0"; do
	code=${case%|*}
	py "$code"
	assert_rc "${case##*|}" "exit status of: $code"
done
py 'import sys; sys.exit("bye")'
assert_eq "$ERR" "bye" "sys.exit(message): the message on stderr"
py '1/0'
assert_contains "$ERR" "ZeroDivisionError: division by zero" "an uncaught exception: traceback on stderr"
assert_eq "$OUT" "" "an uncaught exception: nothing on stdout"

# stdout and stderr stay separate.
py 'import sys
for i in range(3):
    print("out", i)
    print("err", i, file=sys.stderr)
sys.stdout.flush()'
assert_eq "$OUT" "$(printf 'out 0\nout 1\nout 2')" "stdout has only stdout"
assert_eq "$ERR" "$(printf 'err 0\nerr 1\nerr 2')" "stderr has only stderr"

# run hw1.py 3 4 (and python / python3 FILE): argv as typed, quoting like a shell.
printf 'import sys\nprint(sys.argv)\nprint(sum(int(a) for a in sys.argv[1:] if a.isdigit()))\nsys.exit(len(sys.argv))\n' >"$T/up/hw1.py"
upload "$T/up/hw1.py" hw1.py
ssh_pw "$U" "$PW" run hw1.py 3 4
assert_eq "$OUT" "$(printf "['hw1.py', '3', '4']\n7")" "run hw1.py 3 4: argv and result"
assert_rc 3 "run hw1.py 3 4: sys.exit(len(argv))"
ssh_pw "$U" "$PW" "python hw1.py 'two words' 5"
assert_eq "$OUT" "$(printf "['hw1.py', 'two words', '5']\n5")" "python hw1.py 'two words' 5: quoted word kept"
ssh_pw "$U" "$PW" python3 hw1.py
assert_eq "$OUT" "$(printf "['hw1.py']\n0")" "python3 hw1.py: no arguments"
ssh_pw "$U" "$PW" run nosuch.py
assert_ne "$RC" 0 "run of a missing file fails"
assert_contains "$ERR" "nosuch.py" "run of a missing file names it"
ssh_pw "$U" "$PW" run
assert_contains "$ERR" "usage: run FILE" "run without a file: usage"
assert_ne "$RC" 0 "run without a file: non-zero status"

# quota and help.
ssh_pw "$U" "$PW" quota
assert_rc 0 "quota"
assert_match "$OUT" "^user: +$U\$" "quota: names the user"
assert_match "$OUT" "^limits: +memory [0-9]+ .*processes" "quota: shows the limits"
assert_match "$OUT" "^home disk: .* used of " "quota: shows the home disk"
assert_eq "$ERR" "" "quota: nothing on stderr"
ssh_pw "$U" "$PW" help
assert_rc 0 "help"
for v in "run FILE" "python " "quota" "help"; do
	assert_contains "$OUT" "$v" "help lists '$v'"
done

# Anything else: one line on stderr naming the verbs, status 127.
for cmd in "ls -l" "bash" "sh -c id" "cat /etc/passwd"; do
	ssh_pw "$U" "$PW" "$cmd"
	assert_rc 127 "unknown verb: $cmd"
	assert_eq "$OUT" "" "unknown verb: nothing on stdout ($cmd)"
	assert_eq "$ERR" "sandbox-python: unknown command '${cmd%% *}'; the commands are: run, python, python3, quota, help" \
		"unknown verb: the one-line error ($cmd)"
done

e2e_done
