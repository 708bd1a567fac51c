#!/usr/bin/env bash
# server.sh — the HTTP API end to end: starts `digitnet serve MODEL --port 0`
# on loopback, reads the port it prints, and checks with curl that
#   - MNIST test digits sent as PNG are classified like `digitnet predict`
#     (or, without that command, mostly correctly) and like the same digits
#     sent as JSON pixels;
#   - every error path answers its status (400, 403, 404, 405, 413, 415, 422)
#     with a JSON error, including deep nesting, invalid UTF-8, truncated and
#     bomb PNGs and oversized bodies (declared and chunked);
#   - concurrent requests all succeed, the server keeps serving afterwards,
#     taught samples land in the --collect IDX files, and SIGTERM stops it
#     cleanly (exit 0).
# Needs curl and python3 (fixtures only); exits 77 (skip) without them or
# without a model and MNIST data to train a tiny one.
set -u
BUILD=${BUILD:-build}
DIGITNET=${DIGITNET:-$BUILD/digitnet}
command -v curl >/dev/null || { echo "skip: curl is not installed"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 is not installed"; exit 77; }
[ -x "$DIGITNET" ] || { echo "skip: $DIGITNET is not built"; exit 77; }
mnist=${DN_MNIST_DIR:-data/mnist}

tmp=$(mktemp -d)
pids=()
passed=0 failed=0
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    if [ "$failed" -gt 0 ]; then
        for f in "$tmp"/*.err; do [ -s "$f" ] && { echo "--- $f"; tail -n 80 "$f"; }; done
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok    $1"; }
bad() { failed=$((failed + 1)); echo "FAIL  $1"; }
expect() { # expect NAME WANT GOT
    if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: expected '$2', got '$3'"; fi
}

# ---------------------------------------------------------------- model
model=models/mnist-mlp.dnm
if [ ! -f "$model" ]; then
    [ -f "$mnist/train-images-idx3-ubyte" ] || { echo "skip: no model and no MNIST in $mnist"; exit 77; }
    model=$tmp/m.dnm
    if ! "$DIGITNET" train --arch 784-32-10 --epochs 1 --threads 1 --seed 1 -o "$model" \
        --data "$mnist" >"$tmp/train.log" 2>&1; then
        cat "$tmp/train.log"
        echo "FAIL  could not train a model for the test"
        exit 1
    fi
fi
[ -f "$mnist/t10k-images-idx3-ubyte" ] || { echo "skip: no MNIST test set in $mnist"; exit 77; }

# ---------------------------------------------------------------- fixtures
python3 - "$mnist" "$tmp" <<'EOF' || { echo "FAIL  fixtures"; exit 1; }
import json, struct, sys, zlib
mnist, out = sys.argv[1], sys.argv[2]
imgs = open(f"{mnist}/t10k-images-idx3-ubyte", "rb").read()
lbls = open(f"{mnist}/t10k-labels-idx1-ubyte", "rb").read()

def chunk(kind, data):
    c = kind + data
    return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c))

def png(w, h, rows, level=6):
    raw = b"".join(b"\0" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, level)) + chunk(b"IEND", b""))

with open(f"{out}/labels.txt", "w") as lab:
    for i in range(12):
        px = imgs[16 + 784 * i: 16 + 784 * (i + 1)]
        open(f"{out}/d{i}.png", "wb").write(png(28, 28, [px[r * 28:(r + 1) * 28] for r in range(28)]))
        json.dump({"pixels": list(px)}, open(f"{out}/d{i}.json", "w"))
        json.dump({"pixels": [v / 255 for v in px], "label": lbls[8 + i]}, open(f"{out}/s{i}.json", "w"))
        lab.write(f"{lbls[8 + i]}\n")
good = open(f"{out}/d0.png", "rb").read()
open(f"{out}/truncated.png", "wb").write(good[: len(good) // 2])
open(f"{out}/garbage.png", "wb").write(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
# A decompression bomb: 6000x6000 zero pixels in ~40 KB.
row = b"\0" * 6000
raw = zlib.compress(b"".join(b"\0" + row for _ in range(6000)), 9)
open(f"{out}/bomb.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 6000, 6000, 8, 0, 0, 0, 0))
                                    + chunk(b"IDAT", raw) + chunk(b"IEND", b""))
# A blank but acceptable image (no ink): 422.
open(f"{out}/blank.png", "wb").write(png(64, 64, [b"\0" * 64] * 64))
open(f"{out}/deep.json", "w").write('{"pixels":' + "[" * 1000 + "]" * 1000 + "}")
open(f"{out}/utf8.json", "wb").write(b'{"pixels":[1,2],"note":"\xc3\x28"}')
open(f"{out}/surrogate.json", "w").write('{"pixels":[1],"note":"\\ud800"}')
open(f"{out}/short.json", "w").write(json.dumps({"pixels": [0] * 783}))
open(f"{out}/range.json", "w").write(json.dumps({"pixels": [0] * 783 + [256]}))
open(f"{out}/badnum.json", "w").write('{"pixels":[' + ",".join(["0"] * 783) + ",01]}")
open(f"{out}/malformed.json", "w").write('{"pixels": [1, 2,')
open(f"{out}/trailing.json", "w").write('{"pixels": []} x')
open(f"{out}/big.bin", "wb").write(b"\0" * (3 << 20))
EOF

# ---------------------------------------------------------------- server
start_server() { # start_server NAME ARGS... -> sets url
    local name=$1
    shift
    "$DIGITNET" serve "$model" --port 0 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    pids+=($!)
    server_pid=$!
    url=
    for _ in $(seq 100); do
        url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$tmp/$name.out" 2>/dev/null | head -n1)
        [ -n "$url" ] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$tmp/$name.out" "$tmp/$name.err"
    echo "FAIL  $name: the server did not print its URL"
    exit 1
}

# status ARGS... : prints the HTTP status; the body goes to $tmp/body
status() { curl -s -o "$tmp/body" -w '%{http_code}' "$@"; }
json_error() { grep -q '"error":"' "$tmp/body"; }
label_of() { grep -o '"label": *[0-9]' "$1" | head -n1 | grep -o '[0-9]$'; }

start_server main --collect "$tmp/collect" --workers 2
main_pid=$server_pid
base=${url%/}
echo "server at $url"

expect "GET /healthz" 200 "$(status "$base/healthz")"
expect "healthz body" '{"status":"ok"}' "$(cat "$tmp/body")"
expect "GET /" 200 "$(status "$base/")"
grep -q '<canvas id="pad"' "$tmp/body" && ok "index.html served" || bad "index.html served"
expect "GET /app.js" 200 "$(status "$base/app.js")"
expect "GET /style.css" 200 "$(status "$base/style.css")"
expect "GET /api/model" 200 "$(status "$base/api/model")"
grep -q '"arch":"' "$tmp/body" && grep -q '"params":[0-9]' "$tmp/body" && grep -q '"accuracy":' "$tmp/body" &&
    ok "model info fields" || bad "model info fields: $(cat "$tmp/body")"

# Predictions: PNG, JSON pixels, and the CLI when it has a predict command.
have_predict=0
"$DIGITNET" predict --help >/dev/null 2>&1 && have_predict=1
right=0 agree=0 cli_same=0
mapfile -t truth <"$tmp/labels.txt"
for i in $(seq 0 11); do
    st=$(curl -s -o "$tmp/p$i.json" -w '%{http_code}' -H 'Content-Type: image/png' \
        --data-binary "@$tmp/d$i.png" "$base/api/predict")
    [ "$st" = 200 ] || bad "predict d$i.png: status $st: $(cat "$tmp/p$i.json")"
    lp=$(label_of "$tmp/p$i.json")
    st=$(curl -s -o "$tmp/j$i.json" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "@$tmp/d$i.json" "$base/api/predict")
    [ "$st" = 200 ] || bad "predict d$i.json: status $st: $(cat "$tmp/j$i.json")"
    lj=$(label_of "$tmp/j$i.json")
    [ "$lp" = "${truth[$i]}" ] && right=$((right + 1))
    [ "$lp" = "$lj" ] && agree=$((agree + 1))
    if [ $have_predict = 1 ]; then
        "$DIGITNET" predict "$model" "$tmp/d$i.png" --json >"$tmp/c$i.json" 2>/dev/null
        [ "$(label_of "$tmp/c$i.json")" = "$lp" ] && cli_same=$((cli_same + 1))
    fi
done
grep -q '"probabilities":\[' "$tmp/p0.json" && grep -q '"image":\[' "$tmp/p0.json" &&
    ok "predict answer has probabilities and image" || bad "predict answer: $(cat "$tmp/p0.json")"
python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert 0 <= j["label"] <= 9 and len(j["probabilities"]) == 10 and len(j["image"]) == 784
assert abs(sum(j["probabilities"]) - 1) < 1e-3 and all(0 <= v <= 255 for v in j["image"])
p = j["probabilities"]
assert p[j["label"]] == max(p)
# "not sure" below 80%, with the second most probable digit named
assert j["unsure"] is (p[j["label"]] < 0.8), j
r = j["runner_up"]
assert r != j["label"] and p[r] == max(v for d, v in enumerate(p) if d != j["label"]), j
' "$tmp/p0.json" && ok "predict answer is well-formed" || bad "predict answer is well-formed"
[ $right -ge 9 ] && ok "PNG predictions match the true labels ($right/12)" ||
    bad "PNG predictions match the true labels: only $right/12"
[ $agree -ge 10 ] && ok "PNG and JSON-pixel predictions agree ($agree/12)" ||
    bad "PNG and JSON-pixel predictions agree: only $agree/12"
if [ $have_predict = 1 ]; then
    expect "server and 'digitnet predict' agree on 12 digits" 12 "$cli_same"
else
    echo "note  'digitnet predict' is not available; compared with true labels instead"
fi

# Error paths: status, and a JSON {"error": ...} body.
err_case() { # err_case NAME WANT CURL-ARGS...
    local name=$1 want=$2
    shift 2
    local got
    got=$(status "$@")
    if [ "$got" = "$want" ] && json_error; then ok "$name -> $want"; else
        bad "$name: expected $want with a JSON error, got $got: $(head -c 300 "$tmp/body")"
    fi
}
J=(-H 'Content-Type: application/json')
P=(-H 'Content-Type: image/png')
err_case "unknown path" 404 "$base/nope"
err_case "unknown API path" 404 -X POST "$base/api/nothing"
err_case "GET /api/predict" 405 "$base/api/predict"
err_case "DELETE /" 405 -X DELETE "$base/"
allow=$(curl -s -D - -o /dev/null "$base/api/predict" | tr -d '\r' | grep -i '^allow:' | cut -d' ' -f2-)
expect "405 carries Allow" POST "$allow"
err_case "empty body" 400 "${J[@]}" -X POST "$base/api/predict"
err_case "malformed JSON" 400 "${J[@]}" --data-binary "@$tmp/malformed.json" "$base/api/predict"
err_case "trailing garbage" 400 "${J[@]}" --data-binary "@$tmp/trailing.json" "$base/api/predict"
err_case "deep nesting" 400 "${J[@]}" --data-binary "@$tmp/deep.json" "$base/api/predict"
grep -q 'too deep' "$tmp/body" && ok "deep nesting explained" || bad "deep nesting explained: $(cat "$tmp/body")"
err_case "invalid UTF-8" 400 "${J[@]}" --data-binary "@$tmp/utf8.json" "$base/api/predict"
err_case "lone surrogate" 400 "${J[@]}" --data-binary "@$tmp/surrogate.json" "$base/api/predict"
err_case "783 pixels" 400 "${J[@]}" --data-binary "@$tmp/short.json" "$base/api/predict"
err_case "pixel out of range" 400 "${J[@]}" --data-binary "@$tmp/range.json" "$base/api/predict"
err_case "number with leading zero" 400 "${J[@]}" --data-binary "@$tmp/badnum.json" "$base/api/predict"
err_case "truncated PNG" 400 "${P[@]}" --data-binary "@$tmp/truncated.png" "$base/api/predict"
err_case "garbage PNG" 400 "${P[@]}" --data-binary "@$tmp/garbage.png" "$base/api/predict"
err_case "PNG bomb" 413 "${P[@]}" --data-binary "@$tmp/bomb.png" "$base/api/predict"
err_case "blank image" 422 "${P[@]}" --data-binary "@$tmp/blank.png" "$base/api/predict"
err_case "unsupported type" 415 -H 'Content-Type: text/plain' --data-binary 'hello' "$base/api/predict"
err_case "3 MiB body" 413 "${P[@]}" --data-binary "@$tmp/big.bin" "$base/api/predict"
err_case "3 MiB chunked body" 413 "${P[@]}" -H 'Transfer-Encoding: chunked' \
    --data-binary "@$tmp/big.bin" "$base/api/predict"
err_case "sample without label" 400 "${P[@]}" --data-binary "@$tmp/d0.png" "$base/api/samples"
err_case "sample label 10" 400 "${P[@]}" --data-binary "@$tmp/d0.png" "$base/api/samples?label=10"

# Concurrency: 24 requests, 8 at a time, all answered.
for batch in 0 1 2; do
    jobs_=()
    for i in $(seq 0 7); do
        curl -s -o /dev/null -w '%{http_code}\n' "${P[@]}" --data-binary "@$tmp/d$(((batch * 8 + i) % 12)).png" \
            "$base/api/predict" >>"$tmp/par.txt" &
        jobs_+=($!)
    done
    wait "${jobs_[@]}"
done
expect "24 concurrent predictions" 24 "$(grep -c '^200$' "$tmp/par.txt")"

# Teaching: an image with ?label= and JSON pixels with "label".
expect "POST /api/samples (PNG)" 201 "$(status "${P[@]}" --data-binary "@$tmp/d0.png" "$base/api/samples?label=${truth[0]}")"
grep -q '"count":1' "$tmp/body" && ok "first sample counted" || bad "first sample counted: $(cat "$tmp/body")"
expect "POST /api/samples (JSON)" 201 "$(status "${J[@]}" --data-binary "@$tmp/s1.json" "$base/api/samples")"
grep -q '"count":2' "$tmp/body" && ok "second sample counted" || bad "second sample counted: $(cat "$tmp/body")"
expect "images file size" $((16 + 2 * 784)) "$(stat -c %s "$tmp/collect/train-images-idx3-ubyte")"
expect "labels file size" $((8 + 2)) "$(stat -c %s "$tmp/collect/train-labels-idx1-ubyte")"
expect "labels stored" "${truth[0]}${truth[1]}" \
    "$(tail -c 2 "$tmp/collect/train-labels-idx1-ubyte" | od -An -tu1 | tr -d ' \n')"
expect "still healthy after the errors" 200 "$(status "$base/healthz")"
expect "still predicting after the errors" 200 \
    "$(status "${P[@]}" --data-binary "@$tmp/d3.png" "$base/api/predict")"

# A second server without --collect: teaching is refused.
start_server plain
expect "second server on another port" 1 "$([ "$url" != "$base/" ] && echo 1)"
err_case "samples disabled" 403 "${P[@]}" --data-binary "@$tmp/d0.png" "${url}api/samples?label=1"
kill -TERM "$server_pid"
wait "$server_pid"
expect "SIGTERM stops the second server (exit 0)" 0 $?

# Shut down the first one; the data must survive a restart.
kill -INT "$main_pid"
wait "$main_pid"
expect "SIGINT stops the server (exit 0)" 0 $?
start_server again --collect "$tmp/collect"
expect "restarted on the same --collect directory" 200 "$(status "${url}api/model")"
grep -q '"samples":2' "$tmp/body" && ok "two samples after restart" || bad "two samples after restart: $(cat "$tmp/body")"
kill -TERM "$server_pid"
wait "$server_pid"

echo
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
