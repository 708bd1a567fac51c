#!/usr/bin/env bash
# load.sh — the server under load (tests/stress.py load): `digitnet serve`
# on loopback with --port 0, six concurrent keep-alive clients sending a
# fixed mix of valid requests (PNG, PGM, JSON pixels) and invalid ones
# (corrupt images, bad JSON, bombs, oversized bodies, wrong methods and
# paths) for 3 s of warm-up plus 10 s.  Passes when every answer has its
# expected status, no connection drops, the server's RSS stays within 10% of
# its post-warm-up value (not checked for sanitizer builds) and SIGTERM stops
# it with exit status 0.  Prints requests/s and latency percentiles.
# Skips (77) without python3, the server binary or the model.
set -u
BUILD=${BUILD:-build}
export DIGITNET=${DIGITNET:-$BUILD/digitnet}
command -v python3 >/dev/null || { echo "skip: python3 is not installed"; exit 77; }
exec python3 "$(dirname "$0")/stress.py" load "${LOAD_SECONDS:-10}" 6 3
