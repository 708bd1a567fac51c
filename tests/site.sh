#!/usr/bin/env bash
# site.sh — the static site (make site, docs/site.md): builds build/site/
# with the shipped CNN in fp16, serves it with a plain static file server
# (python3 -m http.server on 127.0.0.1) beside `digitnet serve` of the fp32
# CNN, and runs tests/browser/site.mjs (see there). Then fine-tunes the
# MLP on the CSV the page downloaded, and checks the site's size
# (<= 2 MB, 2,000,000 bytes, gzip-compressed). Timings land in $BUILD/site-timings.txt.
# Exits 77 (skip) when chromium, node, playwright-core or emscripten is
# missing: scripts/install-deps --tests.
set -u
BUILD=${BUILD:-build}
DIGITNET=${DIGITNET:-$BUILD/digitnet}
. tests/common.bash
need_browser
command -v emcc >/dev/null || { echo "skip: emscripten is not installed"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 is not installed"; exit 77; }
mnist=${DN_MNIST_DIR:-data/mnist}
[ -f "$mnist/train-images-idx3-ubyte" ] || { echo "skip: no MNIST in $mnist (make data)"; exit 77; }

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
rc=0

# the build itself: make site, quiet unless it fails
make --no-print-directory site BUILD="$BUILD" MODEL=models/mnist-cnn.dnm SITE_WEIGHTS=fp16 \
    >"$tmp/make.log" 2>&1 || { cat "$tmp/make.log"; exit 1; }
site=$BUILD/site
for f in index.html digitnet.wasm digitnet-simd.wasm digitnet.js site.js app.js model.dnm; do
    [ -s "$site/$f" ] || { echo "FAIL  make site did not write $site/$f"; rc=1; }
done
"$DIGITNET" info "$site/model.dnm" >"$tmp/info" 2>&1 || { cat "$tmp/info"; echo "FAIL  the site's model does not load"; rc=1; }
bytes=0
for f in "$site"/*; do bytes=$((bytes + $(gzip -9 -c "$f" | wc -c))); done
if [ "$bytes" -le 2000000 ]; then
    echo "ok    the site is $bytes bytes gzip-compressed (each file on its own), at most 2 MB"
else
    echo "FAIL  the site is $bytes bytes gzip-compressed, over 2 MB"; rc=1
fi
grep -q '/api/' "$site/index.html" && { echo "FAIL  index.html names /api/"; rc=1; }
# the baseline module must run where WebAssembly has no SIMD: no v128 in it
if command -v wasm-dis >/dev/null; then
    plain=$(wasm-dis "$site/digitnet.wasm" | grep -c v128)
    simd=$(wasm-dis "$site/digitnet-simd.wasm" | grep -c v128)
    [ "$plain" = 0 ] && [ "$simd" -gt 0 ] && echo "ok    digitnet.wasm has no SIMD instruction, digitnet-simd.wasm $simd" ||
        { echo "FAIL  SIMD instructions: $plain in digitnet.wasm, $simd in digitnet-simd.wasm"; rc=1; }
else
    echo "FAIL  wasm-dis (binaryen, which emscripten depends on) is missing"; rc=1
fi

# a corrupt model for the page: the CNN with one byte changed
cp models/mnist-cnn.dnm "$tmp/bad.dnm"
python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(5000); b = f.read(1)[0]; f.seek(5000); f.write(bytes([b ^ 0x55]))' "$tmp/bad.dnm"
cmp -s models/mnist-cnn.dnm "$tmp/bad.dnm" && { echo "FAIL  the corrupt copy is not corrupt"; rc=1; }

python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$site" >"$tmp/http.log" 2>&1 &
pids+=($!)
"$DIGITNET" serve models/mnist-cnn.dnm --port 0 >"$tmp/serve.log" 2>&1 &
pids+=($!)
site_url= serve_url=
for _ in $(seq 100); do
    [ -z "$site_url" ] && site_url=$(sed -n 's|.*Serving HTTP on 127\.0\.0\.1 port \([0-9]*\).*|http://127.0.0.1:\1/|p' "$tmp/http.log" | head -n1)
    [ -z "$serve_url" ] && serve_url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$tmp/serve.log" | head -n1)
    [ -n "$site_url" ] && [ -n "$serve_url" ] && break
    sleep 0.1
done
[ -n "$site_url" ] && [ -n "$serve_url" ] || { cat "$tmp/http.log" "$tmp/serve.log"; echo "FAIL  the servers did not start"; exit 1; }
echo "site at $site_url, digitnet serve at $serve_url"

mkdir -p "$BUILD"
DN_SITE_URL=$site_url DN_SERVE_URL=$serve_url DN_FP32=models/mnist-cnn.dnm DN_BAD_MODEL="$tmp/bad.dnm" \
    DN_DOWNLOAD="$tmp/my-digits.csv" DN_SHOTS=$BUILD timeout 300 node tests/browser/site.mjs || rc=1
grep -q '/api/' "$tmp/http.log" && { echo "FAIL  the static server saw a request for /api/"; rc=1; }

# the downloaded digits fine-tune a model as they are
if [ -f "$tmp/my-digits.csv" ]; then
    # the digits taught in order (1, 0, 7, 1), 785 fields each, a header first
    got=$(awk -F, 'NR == 1 { ok = $1 == "label" && NF == 785; next } { ok = ok && NF == 785; l = l $1 }
                   END { print (ok ? "" : "bad-") l }' "$tmp/my-digits.csv")
    [ "$got" = 1071 ] && echo "ok    my-digits.csv holds the 4 taught digits, labels 1 0 7 1" ||
        { echo "FAIL  my-digits.csv: '$got', expected labels 1071 in 785-field rows"; rc=1; }
    if "$DIGITNET" train --finetune models/mnist-mlp.dnm --data "$tmp/my-digits.csv" --mnist "$mnist" \
        --epochs 1 --threads 2 -q -o "$tmp/tuned.dnm" >"$tmp/tune.log" 2>&1 &&
        "$DIGITNET" info "$tmp/tuned.dnm" >"$tmp/tuned.info" 2>&1; then
        echo "ok    train --finetune --data my-digits.csv gave a model that loads"
    else
        cat "$tmp/tune.log"; echo "FAIL  train --finetune did not take the downloaded CSV"; rc=1
    fi
fi
exit $rc
