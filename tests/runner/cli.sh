#!/bin/sh
# The restricted Python runner, run directly (outside a jail): cli (see driver.py).
exec /usr/bin/python3.11 "${top_srcdir:-.}/tests/runner/driver.py" cli
