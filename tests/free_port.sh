# free_port: prints a TCP port on 127.0.0.1 that nothing listens on now (a random one between
# 20000 and 60000, so that parallel tests and benches rarely pick the same). Sourced by the e2e
# harness and the bench; both set PY to Debian's python3.11.
free_port() {
	"$PY" - <<'PYEOF'
import random, socket
for _ in range(200):
    port = random.randint(20000, 60000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
PYEOF
}
