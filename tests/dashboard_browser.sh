#!/usr/bin/env bash
# dashboard_browser.sh — the live training dashboard in headless Chromium:
# tests/browser/dashboard.mjs launches the browser, then runs
# `digitnet train --arch lenet5 --serve --port 0` on a small subset of MNIST
# (1,500 training and 500 validation images, 1,000 test images, 3 short
# epochs; the run is held after its second epoch until the page has seen
# it, so nothing depends on the machine's speed), follows the run on the
# page and stops it with SIGTERM.  Screenshots are left in
# $BUILD/dashboard-live.png, $BUILD/dashboard.png and $BUILD/dashboard-phone.png.
# Exits 77 (skip) when chromium, node, playwright-core or MNIST is missing:
#   apt-get install chromium && npm ci && make data
set -u
BUILD=${BUILD:-build}
DIGITNET=${DIGITNET:-$BUILD/digitnet}
. tests/common.bash
need_browser
[ -x "$DIGITNET" ] || { echo "skip: $DIGITNET is not built"; exit 77; }
mnist=${DN_MNIST_DIR:-data/mnist}
ls "$mnist"/train-images* "$mnist"/t10k-images* >/dev/null 2>&1 || { echo "skip: no MNIST in $mnist (make data)"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A small data set: the first 2,000 training and 1,000 test images.
mkdir "$tmp/data"
"$DIGITNET" convert "$mnist" --split train -n 2000 -q "$tmp/data/train-images-idx3-ubyte" &&
    "$DIGITNET" convert "$mnist" --split test -n 1000 -q "$tmp/data/t10k-images-idx3-ubyte" ||
    { echo "FAIL  could not make the small data set"; exit 1; }

# The run is held after batch 49 (two 24-batch epochs and one batch of the
# third, so both epochs are validated) through DIGITNET_TEST_PACE until the
# page has checked the live view; dashboard.mjs then releases it.
echo 49 >"$tmp/pace"
mkdir -p "$BUILD"
DIGITNET_TEST_PACE=$tmp/pace DN_SHOTS=$BUILD timeout 900 node tests/browser/dashboard.mjs \
    "$DIGITNET" train --arch lenet5 --optimizer adam --lr 0.002 --epochs 3 --val 500 --seed 1 \
    --data "$tmp/data" --serve --port 0 -o "$tmp/m.dnm"
