#!/usr/bin/env bash
# browser.sh — the web page end to end in headless Chromium: starts
# `digitnet serve MODEL --port 0 --collect TMP` and runs tests/browser/e2e.mjs
# (playwright-core driving /usr/bin/chromium; no browser is downloaded),
# then tests/browser/inside.mjs (the "inside the network" view) against the
# MLP and against the default CNN, where most of the guided saliency of a
# drawn "1" must lie on its stroke. Screenshots are left in $BUILD/browser-*.png.
# Exits 77 (skip) when chromium, node or playwright-core is missing:
#   apt-get install chromium && npm ci
set -u
BUILD=${BUILD:-build}
DIGITNET=${DIGITNET:-$BUILD/digitnet}
. tests/common.bash
need_browser
[ -x "$DIGITNET" ] || { echo "skip: $DIGITNET is not built"; exit 77; }
mnist=${DN_MNIST_DIR:-data/mnist}

tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

model=models/mnist-mlp.dnm
if [ ! -f "$model" ]; then
    [ -f "$mnist/train-images-idx3-ubyte" ] || { echo "skip: no model and no MNIST in $mnist"; exit 77; }
    model=$tmp/m.dnm
    "$DIGITNET" train --arch 784-64-10 --epochs 2 --threads 1 --seed 1 -o "$model" \
        --data "$mnist" >"$tmp/train.log" 2>&1 || { cat "$tmp/train.log"; exit 1; }
fi

# start_server LOG ARGS...: runs `digitnet serve ARGS --port 0` and sets pid
# and url, or prints why not and returns 1.
start_server() {
    local log=$1
    shift
    "$DIGITNET" serve "$@" --port 0 >"$tmp/$log.out" 2>>"$tmp/err" &
    pid=$!
    url=
    for _ in $(seq 100); do
        url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$tmp/$log.out" 2>/dev/null | head -n1)
        [ -n "$url" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$url" ] && return 0
    cat "$tmp/$log.out" "$tmp/err"
    echo "FAIL  the server ($*) did not print its URL"
    return 1
}

# stop_server: SIGTERM, which must end it with status 0.
stop_server() {
    kill -TERM "$pid"
    wait "$pid" || { echo "FAIL  the server did not stop cleanly"; rc=1; }
    pid=
}

start_server mlp "$model" --collect "$tmp/collect" || exit 1
echo "server at $url"

mkdir -p "$BUILD"
DN_URL=$url DN_SHOTS=$BUILD timeout 180 node tests/browser/e2e.mjs
rc=$?
if [ "$model" = models/mnist-mlp.dnm ]; then
    echo "-- inside view, MLP"
    DN_URL=$url DN_SHOTS=$BUILD DN_NAME=browser-inside-mlp DN_LAYERS=3 DN_MAPS=128 \
        timeout 180 node tests/browser/inside.mjs || rc=1
fi
stop_server

if [ -f models/mnist-cnn.dnm ]; then
    echo "-- inside view, CNN"
    # the cnn preset shows 8 layers; a deskew layer in front adds its picture
    shown=8
    "$DIGITNET" info --json models/mnist-cnn.dnm | grep -q '"architecture":"deskew-' && shown=9
    if start_server cnn models/mnist-cnn.dnm; then
        DN_URL=$url DN_SHOTS=$BUILD DN_NAME=browser-inside-cnn DN_LAYERS=$shown DN_MAPS=32 \
            DN_SALIENCY_MIN=0.5 timeout 180 node tests/browser/inside.mjs || rc=1
        stop_server
    else
        rc=1
    fi
fi
[ $rc -eq 0 ] || tail -n 20 "$tmp/err"
exit $rc
