#!/usr/bin/env bash
# abuse.sh — the server under attack (tests/stress.py abuse), each case
# against `digitnet serve` on loopback with --port 0: slowloris headers,
# never-ending chunked bodies (slow, and fast past the size limit),
# oversized and falsely declared bodies, invalid UTF-8 and deeply nested or
# huge JSON, image bombs (huge declared dimensions) and the largest accepted
# image, connection floods beyond the per-address limit, oversized headers.
# Attackers connect from other loopback addresses (127.0.0.x) so that the
# per-address limit applies to them; a normal client on 127.0.0.1 must get
# 200 within 5 s during and after every attack.  A body trickling a byte a
# second must be cut at the server's 30 s body deadline, so this takes about
# 35 s.  SIGTERM must then stop the server with exit status 0, and a server
# with 160 workers must start, serve and stop.
# Skips (77) without python3, the server binary or the model.
set -u
BUILD=${BUILD:-build}
export DIGITNET=${DIGITNET:-$BUILD/digitnet}
command -v python3 >/dev/null || { echo "skip: python3 is not installed"; exit 77; }
exec python3 "$(dirname "$0")/stress.py" abuse
